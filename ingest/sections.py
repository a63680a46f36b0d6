"""Turn a report's text into a section tree whose every node knows its character offsets.

Committee reports mix heading styles freely: numbered paragraphs (``3.11``), numbered headings
(``1. Purpose of Report``), markdown (``## 3. Detail``), plain lines (``What needs to improve``),
ALL-CAPS lines (``KEY ISSUES FOR CONSIDERATION``), and whole Ofsted reports appended to a
committee pack. The parser works in three steps:

1. mark page furniture (blank-page notices, page numbers, running headers repeated page after
   page) so it never becomes a heading or part of a chunk;
2. find heading candidates line by line and keep numbered ones only when their number fits the
   numbering seen so far (so a "1." list inside paragraph 3.3 stays text);
3. give each heading a rank and build the tree with a stack: numbered and markdown headings
   rank by their depth, plain headings rank under the nearest "anchor" heading, and a plain
   heading followed directly by another one opens a group ("Children in care" > "Areas of
   strength").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass

from ingest.models import Section

# ---------------------------------------------------------------------------------------------
# Lines and page furniture

_BLANK_PAGE = re.compile(r"^\s*this page (?:is )?(?:intentionally|deliberately) (?:left )?blank\.?\s*$", re.I)
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s+of\s+\d{1,4})?\s*$", re.I)
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|[-*•]\s*)\s*$")  # "---" rules and empty bullets
_TAGS = re.compile(r"<[^>]+>")
_FOOTNOTE_MARKS = re.compile(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]+")


@dataclass(frozen=True)
class Line:
    index: int
    start: int
    end: int  # exclusive, without the newline
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def split_lines(text: str) -> list[Line]:
    lines, pos = [], 0
    for i, raw in enumerate(text.split("\n")):
        lines.append(Line(i, pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return lines


def plain(text: str) -> str:
    """A line without markdown and HTML markup, for comparing and titling."""
    text = _TAGS.sub("", text).replace("**", "").replace("__", "")
    text = re.sub(r"^\s*#{1,6}\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _norm(text: str) -> str:
    return _FOOTNOTE_MARKS.sub("", plain(text)).lower().strip(" .:")


def find_furniture(lines: list[Line]) -> set[int]:
    """Indexes of lines that belong to the page, not the report.

    Running headers are found as pairs of consecutive non-blank lines that recur together at
    least three times: a heading such as "Areas of strength" recurs too, but each time it is
    followed by different text.
    """
    furniture = {
        ln.index
        for ln in lines
        if not ln.blank and (_BLANK_PAGE.match(ln.text) or _PAGE_NUMBER.match(ln.text) or _RULE.match(ln.text))
    }
    content = [ln for ln in lines if not ln.blank and ln.index not in furniture]
    pairs = Counter(
        (_norm(a.text), _norm(b.text))
        for a, b in zip(content, content[1:])
        if len(a.text) <= 150 and len(b.text) <= 150
    )
    for a, b in zip(content, content[1:]):
        if pairs[(_norm(a.text), _norm(b.text))] >= 3 and len(a.text) <= 150 and len(b.text) <= 150:
            furniture.update((a.index, b.index))
    return furniture


@dataclass(frozen=True)
class Layout:
    """A report's lines and which of them are page furniture, worked out once per report."""

    lines: list[Line]
    furniture: frozenset[int]
    starts: tuple[int, ...]  # each line's start offset, for bisecting

    @classmethod
    def of(cls, text: str) -> Layout:
        lines = split_lines(text)
        return cls(lines, frozenset(find_furniture(lines)), tuple(ln.start for ln in lines))

    def lines_in(self, start: int, end: int) -> list[Line]:
        """The lines starting in ``start..end`` (section spans always begin at a line start)."""
        return self.lines[bisect_left(self.starts, start) : bisect_left(self.starts, end)]


# ---------------------------------------------------------------------------------------------
# Heading candidates

_MD_HEADING = re.compile(r"^\s*(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")
_NUMBERED = re.compile(
    r"^\s*(?:[-*•]\s+)?(?:\*\*)?(?:(?P<dotted>\d{1,3}(?:\.\d{1,3}){1,3})\.?|(?P<int>\d{1,3})\.)(?:\*\*)?\s+(?P<rest>\S.*)$"
)
_GRADE_ROW = re.compile(
    r"^(?P<title>[A-Z][^\t]{5,150}?)\t+(?P<grade>Outstanding|Good|Requires improvement(?: to be good)?|Inadequate)\s*$",
    re.I,
)
_TOC_ROW = re.compile(r"^(?P<title>[A-Z][^\t]{2,150}?)\t+\d{1,3}\s*$")
_JUDGEMENT = re.compile(
    r"\b(?:graded|judged)(?: as)?:?\s+(?:Outstanding|Good|Requires improvement|Inadequate)\b"
    r"|\t(?:Outstanding|Good|Requires improvement|Inadequate)",
    re.I,
)
_LABEL_VALUE = re.compile(r"^[A-Z][\w ()/'’&-]{1,40}:\s+\S")  # "Lead inspector: Mike Ferguson"
_PART_MARK = re.compile(r"^\s*(?:Inspection dates?|Report published|Dates? of inspection)\s*:", re.I)
_TOP_VOCABULARY = {
    "recommendations",
    "recommendation",
    "executive summary",
    "summary",
    "introduction",
    "purpose of report",
    "purpose of the report",
    "background",
    "contents",
    "table of contents",
}


def is_heading_like(text: str, *, max_words: int = 16) -> bool:
    t = plain(text)
    if not t or len(t) > 160 or len(t.split()) > max_words:
        return False
    if not (t[0].isupper() or t[0].isdigit()):
        return False
    if t[-1] in ".,;:" or "http" in t or "@" in t:
        return False
    return sum(c.isalpha() for c in t) >= 3


def _is_caps(text: str) -> bool:
    letters = [c for c in plain(text) if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters)


def _number_tuple(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split("."))


def fits_after(previous: tuple[int, ...] | None, new: tuple[int, ...]) -> bool:
    """Whether ``new`` can follow ``previous`` in a report's paragraph numbering."""
    if previous is None:
        return new[-1] == 1 or len(new) == 1 and new[0] <= 2
    if new == previous + (1,):
        return True
    for k in range(len(previous)):
        if len(new) == k + 1 and new[:k] == previous[:k] and 1 <= new[k] - previous[k] <= 2:
            return True
    return False


@dataclass
class Candidate:
    """A line (or two) that may open a section."""

    style: str  # "md", "num", "plain", "part"
    first_line: int
    last_line: int
    start: int
    end: int
    title: str
    number: str | None = None
    md_level: int = 0
    heading_like: bool = True
    caps: bool = False
    toc: bool = False
    top_word: bool = False
    grade_row: bool = False
    # filled in by the tree builder
    rank: int = 0
    kind: str = "heading"


def _toc_titles(lines: list[Line], start: int, end: int) -> list[str]:
    """Entries of a "Contents" list (``Title<TAB>page``) between line ``start`` and ``end``."""
    titles: list[str] = []
    in_toc = False
    for ln in lines[start:end]:
        if _norm(ln.text) in {"contents", "table of contents"}:
            in_toc = True
            continue
        if in_toc:
            m = _TOC_ROW.match(ln.text.strip())
            if m:
                titles.append(_norm(m.group("title")))
            elif not ln.blank:
                if titles:
                    break
    return titles


def _part_starts(lines: list[Line], furniture: set[int]) -> list[int]:
    """Lines where an appended document (an Ofsted report inside a committee pack) begins.

    Its cover carries "Inspection date(s):" or "Report published:" a few lines below its
    title; the part starts after the nearest page furniture (usually a blank page) above.
    """
    starts = []
    for ln in lines:
        if not _PART_MARK.match(ln.text):
            continue
        first = ln.index
        for j in range(ln.index - 1, max(-1, ln.index - 15), -1):
            if j in furniture:
                break
            if not lines[j].blank:
                first = j
        if not starts or first > starts[-1] + 30:
            starts.append(first)
    return starts


def find_candidates(lines: list[Line], furniture: set[int]) -> tuple[list[Candidate], int]:
    """Heading candidates in order, and the line where the report proper begins (after its cover)."""
    candidates: list[Candidate] = []
    part_starts = set(_part_starts(lines, furniture))
    cover_end: int | None = None
    last_number: tuple[int, ...] | None = None
    toc: set[str] = set()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.blank or ln.index in furniture:
            i += 1
            continue
        text = ln.text
        if ln.index in part_starts and cover_end is not None:
            last = ln.index
            title_lines = []
            for j in range(ln.index, min(len(lines), ln.index + 15)):
                if _PART_MARK.match(lines[j].text):
                    break
                if not lines[j].blank and j not in furniture:
                    title_lines.append(plain(lines[j].text))
                    last = j
            end_part = min((p for p in part_starts if p > ln.index), default=len(lines))
            toc = set(_toc_titles(lines, ln.index, end_part))
            candidates.append(
                Candidate("part", ln.index, ln.index, ln.start, ln.end, _part_title(title_lines))
            )
            last_number = None
            i = last + 1
            continue

        md = _MD_HEADING.match(text)
        num = _NUMBERED.match(text) if "\t" not in text else None
        if md:
            title = plain(md.group("title"))
            inner = _NUMBERED.match(title)
            number = (inner.group("dotted") or inner.group("int")) if inner else None
            if inner:
                title = plain(inner.group("rest"))
                last_number = _number_tuple(number)
            candidates.append(
                Candidate("md", i, i, ln.start, ln.end, title, number, md_level=len(md.group("hashes")))
            )
            cover_end = i if cover_end is None else cover_end
        elif num:
            number = num.group("dotted") or num.group("int")
            new = _number_tuple(number)
            rest = plain(num.group("rest"))
            heading_like = is_heading_like(rest, max_words=12)
            restart = heading_like and new in {(1,), (1, 1)}
            if fits_after(last_number, new) or restart:
                if cover_end is None and not (new[-1] == 1 or new == (1,)):
                    i += 1
                    continue
                last_number = new
                candidates.append(
                    Candidate("num", i, i, ln.start, ln.end, rest, number, heading_like=heading_like)
                )
                cover_end = i if cover_end is None else cover_end
        else:
            grade = _GRADE_ROW.match(text.strip())
            block_end = i
            while block_end + 1 < len(lines) and not lines[block_end + 1].blank and block_end + 1 not in furniture:
                block_end += 1
            title = plain(grade.group("title")) if grade else plain(" ".join(l.text for l in lines[i : block_end + 1]))
            is_toc = _norm(title) in toc
            top_word = _norm(title) in _TOP_VOCABULARY
            caps = "\t" not in text and _is_caps(text) and is_heading_like(text)
            prev = next((lines[j] for j in range(i - 1, -1, -1) if not lines[j].blank and j not in furniture), None)
            standalone_block = (
                "\t" not in text
                and not (prev is not None and prev.text.rstrip().endswith(":"))
                and block_end - i <= 1
                and (i == 0 or lines[i - 1].blank or i - 1 in furniture)
                and is_heading_like(title)
                and not re.match(r"^[-*•]\s", text.strip())
                and not _LABEL_VALUE.match(title)
            )
            if grade or (is_toc and "\t" not in text) or standalone_block:
                if cover_end is None and not top_word:
                    i = block_end + 1
                    continue
                last = i if grade else block_end
                candidates.append(
                    Candidate(
                        "plain",
                        i,
                        last,
                        ln.start,
                        lines[last].end,
                        title,
                        caps=caps,
                        toc=is_toc,
                        top_word=top_word,
                        grade_row=bool(grade),
                    )
                )
                cover_end = i if cover_end is None else cover_end
                i = last + 1
                continue
        i += 1
    return candidates, (cover_end if cover_end is not None else len(lines))


def _part_title(title_lines: list[str]) -> str:
    for t in title_lines:
        if re.match(r"(?:Inspection|Review|Report|Focused visit|Joint targeted)\b", t, re.I):
            return f"Ofsted report: {_FOOTNOTE_MARKS.sub('', t)}"
    return "Appended report: " + (title_lines[0] if title_lines else "untitled")


# ---------------------------------------------------------------------------------------------
# The tree


@dataclass
class _Open:
    cand: Candidate
    section: Section
    anchor: bool  # plain headings rank themselves under the nearest anchor


def _has_content(lines: list[Line], furniture: set[int], first: int, last: int) -> bool:
    return any(not lines[j].blank and j not in furniture for j in range(first, last))


def build_tree(text: str, page_at=None, layout: Layout | None = None) -> list[Section]:
    """The section tree of ``text`` as a flat list in document order (parents before children)."""
    layout = layout or Layout.of(text)
    lines, furniture = layout.lines, layout.furniture
    candidates, cover_end = find_candidates(lines, furniture)

    candidates, has_body = _drop_empty_plain(candidates, lines, furniture)

    sections: list[Section] = []
    stack: list[_Open] = []
    counter = 0

    def new_id() -> str:
        nonlocal counter
        counter += 1
        return f"s{counter:03d}"

    def close_until(rank: int, at: int) -> None:
        while stack and stack[-1].section.level >= rank:
            stack.pop().section.end = at

    def page(offset: int):
        return page_at(offset) if page_at else None

    if cover_end > 0 and _has_content(lines, furniture, 0, cover_end):
        cover_stop = lines[cover_end].start if cover_end < len(lines) else len(text)
        sections.append(
            Section(new_id(), "cover", None, "Cover", 1, None, ("Cover",), 0, cover_stop, 0, cover_stop, page(0))
        )

    base = 0  # rank of the current part (0 outside any part)
    group_rank: int | None = None  # rank of an open plain-heading group
    prev_plain_empty: tuple[int, int] | None = None  # (rank, index) of a plain heading with no text yet
    judgement_rank: int | None = None  # "... graded as: Good" headings are siblings of each other

    for idx, cand in enumerate(candidates):
        followed_by_heading = idx + 1 < len(candidates) and not has_body[idx]
        anchor = True
        if cand.style == "part":
            rank = 1
            base = 1
            judgement_rank = None
        elif cand.style == "md":
            rank = base + cand.md_level
        elif cand.style == "num":
            depth = cand.number.count(".") + 1 if cand.number else 1
            if cand.heading_like and (has_body[idx] or _next_is_child(candidates, idx)) and not _numbered_sentence(cand):
                cand.kind = "heading"
                rank = base + depth
            else:
                cand.kind = "paragraph"
                # A paragraph hangs under the innermost heading, or under the paragraph it extends (3.1 -> 3.1.1).
                while stack and stack[-1].cand.kind == "paragraph" and not _is_prefix(stack[-1].cand.number, cand.number):
                    stack.pop().section.end = cand.start
                rank = (stack[-1].section.level + 1) if stack else base + 1
        else:  # plain
            innermost_anchor = next((o for o in reversed(stack) if o.anchor), None)
            anchor_rank = innermost_anchor.section.level if innermost_anchor else base
            if _JUDGEMENT.search(cand.title) and judgement_rank is not None:
                rank = judgement_rank
                group_rank = None
            elif cand.toc or cand.grade_row or cand.caps or (cand.top_word and not _structural_open(stack)):
                rank = base + 1
                group_rank = None
            else:
                anchor = False
                if prev_plain_empty is not None and prev_plain_empty[1] == idx - 1 and prev_plain_empty[0] > anchor_rank:
                    group_rank = prev_plain_empty[0]
                    rank = group_rank + 1
                elif group_rank is not None and group_rank > anchor_rank and not followed_by_heading:
                    rank = group_rank + 1
                else:
                    rank = anchor_rank + 1
                    group_rank = None
            prev_plain_empty = (rank, idx) if not has_body[idx] else None

        if cand.style != "num" and _JUDGEMENT.search(cand.title):
            judgement_rank = rank
        close_until(rank, cand.start)
        parent = stack[-1].section if stack else None
        number = cand.number
        title = "" if cand.kind == "paragraph" else cand.title
        kind = "part" if cand.style == "part" else cand.kind
        body_start = cand.start if kind == "paragraph" else _line_after(lines, cand.last_line, text)
        section = Section(
            id=new_id(),
            kind=kind,
            number=number,
            title=title,
            level=rank,
            parent_id=parent.id if parent else None,
            path=(),
            start=cand.start,
            end=len(text),
            body_start=body_start,
            body_end=body_start,
            page=page(cand.start),
        )
        section.path = (*(parent.path if parent else ()), section.label)
        if parent:
            parent.children.append(section.id)
        sections.append(section)
        stack.append(_Open(cand, section, anchor and kind != "paragraph"))
        if cand.style != "plain":
            prev_plain_empty = None
            if cand.style != "num" or cand.kind == "heading":
                group_rank = None

    close_until(-1, len(text))
    _set_body_ends(sections, text)
    by_id = {s.id: s for s in sections}
    for s in sections:  # ranks only order headings; what a reader needs is the depth in the tree
        s.level = by_id[s.parent_id].level + 1 if s.parent_id else 1
    return sections


def _drop_empty_plain(
    candidates: list[Candidate], lines: list[Line], furniture: set[int]
) -> tuple[list[Candidate], list[bool]]:
    """Plain lines with nothing under them ("None", "Not required") are text, not headings.

    Returns the kept candidates and, for each, whether it has text of its own before the next.
    """
    while True:
        next_line = [c.first_line for c in candidates[1:]] + [len(lines)]
        has_body = [_has_content(lines, furniture, c.last_line + 1, nl) for c, nl in zip(candidates, next_line)]
        keep = []
        for idx, cand in enumerate(candidates):
            nxt = candidates[idx + 1] if idx + 1 < len(candidates) else None
            empty_leaf = (
                cand.style == "plain"
                and not has_body[idx]
                and not (cand.toc or cand.grade_row)
                and (nxt is None or nxt.style in {"md", "part"} or _numbered_heading(nxt))
            )
            keep.append(not empty_leaf)
        if all(keep):
            return candidates, has_body
        candidates = [c for c, k in zip(candidates, keep) if k]


def _line_after(lines: list[Line], index: int, text: str) -> int:
    return lines[index + 1].start if index + 1 < len(lines) else len(text)


def _is_prefix(parent: str | None, child: str | None) -> bool:
    if not parent or not child:
        return False
    p, c = _number_tuple(parent), _number_tuple(child)
    return len(c) > len(p) and c[: len(p)] == p


def _next_is_child(candidates: list[Candidate], idx: int) -> bool:
    if idx + 1 >= len(candidates):
        return False
    nxt = candidates[idx + 1]
    return nxt.style == "num" and _is_prefix(candidates[idx].number, nxt.number)


def _numbered_sentence(cand: Candidate) -> bool:
    """'4.1 No other options are available' reads as a sentence even without a full stop."""
    words = cand.title.split()
    return len(words) >= 4 and words[1].lower() in {"is", "are", "was", "were", "has", "have", "will"}


def _numbered_heading(cand: Candidate) -> bool:
    return cand.style == "num" and cand.heading_like and not _numbered_sentence(cand)


def _structural_open(stack: list[_Open]) -> bool:
    return any(o.cand.style in {"md", "num"} and o.cand.kind == "heading" for o in stack)


def _set_body_ends(sections: list[Section], text: str) -> None:
    by_id = {s.id: s for s in sections}
    for s in sections:
        first_child = by_id[s.children[0]].start if s.children else s.end
        s.body_end = max(s.body_start, min(first_child, s.end))
