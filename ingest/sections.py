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
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Set
from dataclasses import dataclass

from ingest.judgements import GRADE_WORDS, stated_grades
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


_DIGITS = re.compile(r"\d+")
_TRAILING_NUMBER = re.compile(r"\s+\d{1,4}$")


def _norm_digits(text: str) -> str:
    """A line with its numbers blanked: a running header whose page number (or dates) change."""
    return _DIGITS.sub("#", _norm(text))


def find_furniture(lines: list[Line], page_starts: tuple[int, ...] = ()) -> set[int]:
    """Indexes of lines that belong to the page, not the report.

    Running headers are found as pairs of consecutive non-blank lines that recur together at
    least three times, a closing page number aside ("Inspection of Dorset local authority
    children's services / 17 to 21 March 2025 2"): a heading such as "Areas of strength"
    recurs too, but each time it is followed by different text. With the pages known (a PDF),
    a line among the first four or last three of a page that recurs there, numbers aside, on
    three pages and a quarter of them is furniture too: a one-line header ("Medway Council
    Inspection of safeguarding and looked after children") or footer.
    """
    furniture = {
        ln.index
        for ln in lines
        if not ln.blank and (_BLANK_PAGE.match(ln.text) or _PAGE_NUMBER.match(ln.text) or _RULE.match(ln.text))
    }
    marked = set(furniture)  # page numbers, rules and blank-page notices
    content = [ln for ln in lines if not ln.blank and ln.index not in furniture]

    def key(a: Line, b: Line) -> tuple[str, str]:
        # Only a number closing the line is set aside (the page number): rows of a table, or
        # sentences made from one template, differ only in their numbers without being furniture.
        return _TRAILING_NUMBER.sub(" #", _norm(a.text)), _TRAILING_NUMBER.sub(" #", _norm(b.text))

    short = [(a, b) for a, b in zip(content, content[1:]) if len(a.text) <= 150 and len(b.text) <= 150]
    if len(page_starts) >= 3:  # with the pages known, a running header stands at a page's top or foot
        edges = _edge_lines(lines, page_starts, furniture)
        short = [(a, b) for a, b in short if a.index in edges and b.index in edges]
    pairs = Counter(key(a, b) for a, b in short)
    for a, b in short:
        if pairs[key(a, b)] >= 3:
            furniture.update((a.index, b.index))
    if len(page_starts) >= 3:
        furniture |= _page_edges(lines, page_starts, marked)
    return furniture


def _pages(lines: list[Line], page_starts: tuple[int, ...]) -> list[list[Line]]:
    pages: list[list[Line]] = [[] for _ in page_starts]
    for ln in lines:
        pages[max(0, bisect_right(page_starts, ln.start) - 1)].append(ln)
    return pages


def _page_edge_lines(page: list[Line], numbers: set[int]) -> list[Line]:
    """The first four and last three lines of text on a page (page numbers aside)."""
    content = [ln for ln in page if not ln.blank and ln.index not in numbers]
    return content[:4] + content[-3:]


def _edge_lines(lines: list[Line], page_starts: tuple[int, ...], numbers: set[int]) -> set[int]:
    return {ln.index for page in _pages(lines, page_starts) for ln in _page_edge_lines(page, numbers)}


def _page_edges(lines: list[Line], page_starts: tuple[int, ...], numbers: set[int]) -> set[int]:
    """Lines at the top or bottom of a page that recur there, numbers aside, page after page
    (``numbers``: the page-number lines, which are not counted as a page's first lines)."""
    pages = _pages(lines, page_starts)
    seen: dict[str, set[int]] = {}
    edges: list[tuple[str, int]] = []
    for number, page in enumerate(pages):
        for ln in _page_edge_lines(page, numbers):
            k = _norm_digits(ln.text)
            if sum(c.isalpha() for c in k) >= 8:
                seen.setdefault(k, set()).add(number)
                edges.append((k, ln.index))
    needed = max(3, len(pages) // 4)
    return {index for k, index in edges if len(seen[k]) >= needed}


# A footnote at a page's foot: "1 The areas for improvement have been cross-referenced with ...".
_FOOTNOTE = re.compile(r"^\s*(?P<n>\d{1,2})\s+(?=[A-Z‘'\"(])")
# Its mark in the page's text, set against a word: "What needs to improve?1", "board1", "area.2".
_MARK = re.compile(r"(?:(?<=[A-Za-z])|(?<=[A-Za-z][?.)’'\",;:]))(?P<n>\d{1,2})(?=[\s.,;:)]|$)")


def find_footnotes(
    lines: list[Line], page_starts: tuple[int, ...], furniture: set[int]
) -> tuple[set[int], list[tuple[int, int]]]:
    """A PDF's footnotes: the lines of each note at a page's foot, and the character spans of
    the marks that call them. Neither belongs in a passage: a note sits between the two halves
    of a paragraph broken by the page, and its mark is glued to a word ("board1")."""
    notes: set[int] = set()
    marks: list[tuple[int, int]] = []
    for page in _pages(lines, page_starts) if page_starts else []:
        content = [ln for ln in page if not ln.blank and ln.index not in furniture]
        body_end = len(content)
        numbers: set[str] = set()
        # Notes are the page's last lines, each opening with its number, after a gap.
        for i in range(len(content) - 1, max(0, len(content) - 16), -1):
            m = _FOOTNOTE.match(content[i].text)
            if m and content[i - 1].index < content[i].index - 1:
                notes.update(ln.index for ln in content[i:body_end])
                numbers.add(m.group("n"))
                body_end = i
        for ln in content[:body_end] if numbers else []:
            for m in _MARK.finditer(ln.text):
                if m.group("n") in numbers:
                    marks.append((ln.start + m.start("n"), ln.start + m.end("n")))
    return notes, marks


@dataclass(frozen=True)
class Layout:
    """A report's lines and which of them are page furniture, worked out once per report.

    ``marks`` are footnote marks inside lines (character spans): like furniture, never part of
    a chunk. ``wrapped`` says the text is hard-wrapped, as text from a PDF is: paragraphs run
    over many lines with no blank line between them, so headings are told by where they stand
    (after a sentence ends, before numbered paragraphs or a list) rather than by blank lines.
    """

    lines: list[Line]
    furniture: frozenset[int]
    starts: tuple[int, ...]  # each line's start offset, for bisecting
    marks: tuple[tuple[int, int], ...] = ()
    page_starts: tuple[int, ...] = ()
    wrapped: bool = False
    width: int = 0  # the length most lines reach (90th percentile of content lines)
    toc_titles: frozenset[str] = frozenset()  # a wrapped report's contents page entries, normalised

    @classmethod
    def of(cls, text: str, page_starts: tuple[int, ...] = ()) -> Layout:
        lines = split_lines(text)
        furniture = find_furniture(lines, page_starts)
        notes, marks = find_footnotes(lines, page_starts, furniture)
        furniture |= notes
        content = [ln for ln in lines if not ln.blank and ln.index not in furniture]
        lengths = sorted(len(ln.text.rstrip()) for ln in content)
        width = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
        # Hard-wrapped text: many lines go straight on into a line starting in lower case.
        follow_on = sum(1 for a, b in zip(content, content[1:])
                        if b.index == a.index + 1 and b.text.lstrip()[:1].islower())
        wrapped = len(content) >= 20 and follow_on >= 0.15 * len(content)
        toc: set[str] = set()
        if wrapped:  # the contents page lists the headings, and is not itself the report's text
            toc, toc_lines = _wrapped_toc(lines, frozenset(furniture))
            furniture |= toc_lines
        return cls(lines, frozenset(furniture), tuple(ln.start for ln in lines), tuple(marks),
                   tuple(page_starts), wrapped, width, frozenset(toc))

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
    level: int | None = None  # the level a wrapped report's heading takes within its part
    synthetic: bool = False  # a section the report does not title ("Summary"): no heading line
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
# Hard-wrapped text (PDFs): headings told by where they stand

_ENDS_SENTENCE = re.compile(r"[.!?:;)]['’\"”)\]]*\s*$")
_LIST_LINE = re.compile(r"^\s*(?:[-*•◼▪●■\uf000-\uf0ff]|\d{1,3}(?:\.\d{1,3}){0,3}\.?\s)")
_SECTION_MARK = re.compile(r"^\s*Section\s+\d+\s*[:.–-]", re.I)  # SIF: "Section 1: the local authority"
# ILACS: "Judgement Grade" over its grade table; SIF: "Key judgement Judgement grade" over a judgement.
_GRADE_TABLE_HEAD = re.compile(r"^\s*(?:Key\s+)?Judgements?\s+(?:judgements?\s+)?Grades?\s*$", re.I)
_TRAILING_GRADE = re.compile(rf"\s*(?::|\bis|\bare)?\s*{GRADE_WORDS}\.?\s*$", re.I)
_BACK_PAGE = re.compile(r"^\s*The Office for Standards in Education, Children['’]s Services and Skills\b")
# A grade on a line of its own, under its judgement's heading: "Grade 4 (Inadequate)".
_GRADE_ONLY = re.compile(rf"^\s*(?:Grade\s+\d\s*)?\(?(?:{GRADE_WORDS}|adequate)\)?\s*(?:\(?Grade\s+\d\)?)?\s*$", re.I)
_GRADE_WORD = re.compile(r"outstanding|good|inadequate|requir", re.I)  # a cheap test before ``stated_grades``
_TOC_ENTRY = re.compile(r"^(?P<title>\S.*?\S)\s+\d{1,3}\s*$")
_MAX_HEADING_LINES = 4  # a judgement heading may take four lines ("The experiences and progress of / ... / Good")


def _wrapped_toc(lines: list[Line], furniture: frozenset[int]) -> tuple[set[str], set[int]]:
    """The entries of a contents page ("Summary of key findings 3", an entry running over two
    lines), and its lines: the report's own list of its headings, and not a section itself."""
    titles: set[str] = set()
    toc_lines: set[int] = set()
    for ln in lines:
        if _norm(ln.text) not in {"contents", "table of contents"}:
            continue
        toc_lines.add(ln.index)
        pending: list[Line] = []
        for nxt in lines[ln.index + 1 : ln.index + 80]:
            if nxt.blank or nxt.index in furniture:
                if titles and not pending:
                    break
                continue
            m = _TOC_ENTRY.match(nxt.text.strip())
            if m:
                titles.add(_norm(" ".join([*(p.text for p in pending), m.group("title")])))
                toc_lines.update([*(p.index for p in pending), nxt.index])
                pending = []
            elif len(pending) < 2 and is_heading_like(nxt.text, max_words=20):
                pending.append(nxt)
            else:
                break
    return titles, toc_lines


class _Wrapped:
    """Finds the headings of one hard-wrapped report (see ``wrapped_candidates``)."""

    def __init__(self, text: str, layout: Layout) -> None:
        self.text, self.layout = text, layout
        self.lines = layout.lines
        self.toc = layout.toc_titles
        self.skip = layout.furniture  # never a heading, never a chunk (the contents page included)
        self.content = [ln.index for ln in self.lines if not ln.blank and ln.index not in self.skip]
        self.next_content = {a: b for a, b in zip(self.content, self.content[1:])}
        self.prev_content = {b: a for a, b in zip(self.content, self.content[1:])}
        self.breaks = layout.page_starts
        self.heading_ends: set[int] = set()  # last lines of the headings found so far

    def is_content(self, i: int) -> bool:
        return 0 <= i < len(self.lines) and not self.lines[i].blank and i not in self.skip

    def after_break(self, i: int) -> bool:
        """Line ``i`` follows a blank line, furniture or a new page, not its paragraph's last line."""
        prev = self.prev_content.get(i)
        return prev is None or prev != i - 1 or (self.breaks and bisect_right(self.breaks, self.lines[prev].start)
                                                 != bisect_right(self.breaks, self.lines[i].start))

    def opens(self, i: int) -> bool:
        """Whether a heading may start at line ``i``: the line before it ended a sentence or an item."""
        if self.after_break(i) or self.prev_content[i] in self.heading_ends:
            return True
        if _GRADE_TABLE_HEAD.match(self.lines[self.prev_content[i]].text):
            return True
        return bool(_ENDS_SENTENCE.search(self.lines[self.prev_content[i]].text))

    def block(self, i: int, n: int) -> list[Line] | None:
        """Lines ``i`` .. ``i + n - 1`` if they run on without a break."""
        block = [self.lines[i]]
        for _ in range(n - 1):
            j = self.next_content.get(block[-1].index)
            if j is None or j != block[-1].index + 1:
                return None
            block.append(self.lines[j])
        return block

    def short(self, ln: Line, share: float = 0.75) -> bool:
        return len(ln.text.rstrip()) < share * self.layout.width

    def heading_at(self, i: int) -> tuple[int, dict] | None:
        """The last line of a heading starting at line ``i`` and what kind it is, or None."""
        first = self.lines[i]
        if _GRADE_TABLE_HEAD.match(first.text) and self.opens(i):
            # "Key judgement Judgement grade" over one judgement: the heading's first line.
            nxt = self.next_content.get(i)
            found = self.heading_at(nxt) if nxt == i + 1 else None
            return (found[0], {**found[1], "table_head": True}) if found and found[1].get("judgement") else None
        if _LIST_LINE.match(first.text) or "\t" in first.text or _GRADE_ONLY.match(first.text):
            return None
        opened = self.opens(i)
        for n in range(_MAX_HEADING_LINES, 0, -1):
            block = self.block(i, n)
            if block is None or any(_LIST_LINE.match(b.text) for b in block[1:]):
                continue
            title = plain(" ".join(b.text for b in block))
            after = self.next_content.get(block[-1].index)
            # A judgement heading over numbered paragraphs stands even after a list item that
            # lacks its full stop; anything else needs the sentence before it to have ended.
            if _is_judgement(title) and (opened or after is not None and _LIST_LINE.match(self.lines[after].text)):
                area = _TRAILING_GRADE.sub("", title)
                named = _norm(area) in self.toc or any(
                    _norm(plain(" ".join(b.text for b in block[:k]))) in self.toc for k in range(1, n + 1))
                return block[-1].index, {"judgement": True, "toc": named}
            listed = n <= 3 and _norm(_strip_marks(title)) in self.toc
            if listed and (opened or after is not None and _LIST_LINE.match(self.lines[after].text)):
                return block[-1].index, {"toc": True, "section_mark": bool(_SECTION_MARK.match(title))}
        if not opened:
            return None
        if _SECTION_MARK.match(first.text) and is_heading_like(first.text, max_words=16):
            return i, {"section_mark": True}
        for n in (2, 1):
            block = self.block(i, n)
            if block is None or not all(self.short(b, 0.9) for b in block):
                continue
            if n == 2 and block[0].text.rstrip().endswith(("?", ":")):
                continue  # "What does the local authority need to improve?" ends its heading
            title = _strip_marks(plain(" ".join(b.text for b in block)))
            after = self.next_content.get(block[-1].index)
            follows = self.lines[after] if after is not None else None
            lead_in = title.endswith(":") and 4 <= len(title.split()) <= 6 and is_heading_like(title[:-1])
            if not (is_heading_like(title, max_words=20) or lead_in) or _LABEL_VALUE.match(title):
                continue
            if title.count("(") != title.count(")"):
                continue  # the end of a bracket: "National Framework)"
            if follows is not None and _LIST_LINE.match(follows.text):
                return block[-1].index, {}  # a heading over numbered paragraphs or a list
            if (n == 1 and follows is not None and self.short(first, 0.6) and len(title.split()) <= 8
                    and not re.search(r"\d", title) and follows.text.lstrip()[:1].isupper()
                    and not title.endswith(":")):
                return i, {}  # a short line over prose: "Information about this inspection"
        return None


def _strip_marks(title: str) -> str:
    """A heading's title without the footnote mark glued to its end ("What needs to improve?1")."""
    return re.sub(r"(?<=[A-Za-z?])\d{1,2}$", "", title.strip())


def _is_judgement(title: str) -> bool:
    """A heading that is a graded judgement: "The experiences and progress of children in care:
    good", "Leadership, management and governance is good"."""
    # On one line, a statement is one only when it is the whole line; most lines name no grade at all.
    return bool(_GRADE_WORD.search(title)) and bool(stated_grades(title))


def wrapped_candidates(text: str, layout: Layout) -> tuple[list[Candidate], int]:
    """Heading candidates of hard-wrapped text, and the line where the report proper begins.

    Without blank lines to go by, a heading is a line or two that stands after a sentence
    ends and is followed by numbered paragraphs or a list, or that names a judgement and its
    grade, or that the contents page lists; numbered lines are paragraphs unless short and
    complete on their line. An Ofsted report's grade table (or a SIF report's judgement list)
    is a section of its own, "Judgements", and the text between it and the next heading is
    its "Summary"; the contents page and the back page's boilerplate are not the report's text.
    """
    w = _Wrapped(text, layout)
    lines = layout.lines
    candidates: list[Candidate] = []
    part_starts = set(_part_starts(lines, set(layout.furniture)))
    cover_end: int | None = None
    last_number: tuple[int, ...] | None = None
    has_sections = any(_SECTION_MARK.match(t) for t in w.toc)
    anchor_level = 0  # level of the innermost heading the contents page names (or a judgement's)
    back_page = _back_page_line(w)
    grade_block_seen = False

    def add(first: int, last: int, title: str, level: int | None, **flags) -> None:
        nonlocal cover_end
        w.heading_ends.add(last)
        candidates.append(Candidate("plain", first, last, lines[first].start, lines[last].end, title,
                                    level=level, **flags))
        cover_end = first if cover_end is None else cover_end

    i = 0
    while i < len(lines):
        if not w.is_content(i):
            i += 1
            continue
        ln = lines[i]
        if i == back_page:
            add(i, i, "About Ofsted", 1, synthetic=True)
            break
        if i in part_starts and cover_end is not None:
            last, title_lines = i, []
            for j in range(i, min(len(lines), i + 15)):
                if _PART_MARK.match(lines[j].text):
                    break
                if w.is_content(j):
                    title_lines.append(plain(lines[j].text))
                    last = j
            candidates.append(Candidate("part", i, i, ln.start, ln.end, _part_title(title_lines)))
            last_number, anchor_level, grade_block_seen = None, 0, False
            i = last + 1
            continue
        block_end = None if grade_block_seen or candidates and candidates[-1].style != "part" else _grade_block(w, i)
        if block_end is not None:
            grade_block_seen = True
            header = bool(_GRADE_TABLE_HEAD.match(ln.text))
            add(i, i, "Judgements", 1, grade_row=True, synthetic=not header)  # a SIF list has no heading line
            nxt = w.next_content.get(block_end)
            if header and nxt is not None and w.heading_at(nxt) is None and not _NUMBERED.match(lines[nxt].text):
                add(nxt, nxt, "Summary", 1, synthetic=True)
                i = nxt + 1
            else:
                i = block_end + 1
            continue
        num = _NUMBERED.match(ln.text) if "\t" not in ln.text else None
        if num:
            number = num.group("dotted") or num.group("int")
            new = _number_tuple(number)
            rest = plain(num.group("rest"))
            nxt = w.next_content.get(i)
            continues = nxt == i + 1 and lines[nxt].text.lstrip()[:1].islower()
            heading_like = is_heading_like(rest, max_words=12) and w.short(ln, 0.7) and not continues
            after_heading = bool(candidates) and candidates[-1].style == "plain" and not _has_content(
                lines, w.skip, candidates[-1].last_line + 1, i)
            if fits_after(last_number, new) or (new in {(1,), (1, 1)} and (heading_like or after_heading)):
                if cover_end is not None or new[-1] == 1:
                    last_number = new
                    candidates.append(Candidate("num", i, i, ln.start, ln.end, rest, number, heading_like=heading_like))
                    cover_end = i if cover_end is None else cover_end
            i += 1
            continue
        found = w.heading_at(i)
        if found is not None and (cover_end is not None or found[1]):
            last, kind = found
            first_title_line = i + 1 if kind.get("table_head") else i
            title = _strip_marks(plain(" ".join(l.text for l in lines[first_title_line : last + 1] if w.is_content(l.index))))
            if kind.get("section_mark") or kind.get("toc"):
                # "Section 1: ..." heads the contents page's other entries, which head the rest.
                level = anchor_level = 1 if kind.get("section_mark") or not has_sections else 2
            else:
                level = anchor_level + 1 if w.toc else 1  # without a contents page, every heading is top
            add(i, last, title, level, toc=bool(kind.get("toc")))
            i = last + 1
            continue
        i += 1
    return candidates, (cover_end if cover_end is not None else len(lines))


def _grade_block(w: _Wrapped, i: int) -> int | None:
    """The last line of the grade table or judgement list starting at line ``i``, or None.

    ILACS: "Judgement Grade" and rows of a judgement and its grade, each row's grade closing
    it. SIF: the overall judgement, then numbered sub-judgements, on the first page; the block
    runs to the last grade stated on that page.
    """
    lines, text = w.lines, w.text
    ln = lines[i]
    header = bool(_GRADE_TABLE_HEAD.match(ln.text))
    page_end = _page_end(w, i)
    spans = stated_grades(text, ln.start if not header else lines[i].end, page_end)
    if not spans or (not header and spans[0][0] >= ln.end):
        return None
    if header:  # rows follow one another directly
        end = spans[0][1]
        for s, e in spans[1:]:
            if text[end:s].strip():
                break
            end = e
    else:
        end = spans[-1][1]
    return bisect_right(w.layout.starts, end) - 1


def _page_end(w: _Wrapped, i: int) -> int:
    """Where the page holding line ``i`` ends: the next page start, or the next run of furniture."""
    start = w.lines[i].start
    if w.breaks:
        k = bisect_right(w.breaks, start)
        return w.breaks[k] if k < len(w.breaks) else len(w.text)
    for ln in w.lines[i + 1 :]:
        if ln.index in w.layout.furniture:
            return ln.start
    return len(w.text)


def _back_page_line(w: _Wrapped) -> int | None:
    """The first line of an Ofsted report's back page (who Ofsted is, copyright, address)."""
    for index in reversed(w.content):
        if _BACK_PAGE.match(w.lines[index].text):
            page_start = bisect_right(w.breaks, w.lines[index].start) - 1 if w.breaks else -1
            first = index
            if page_start >= 0:  # the back page opens at its first line of text
                first = next((c for c in w.content if w.lines[c].start >= w.breaks[page_start]), index)
            return first
    return None


# ---------------------------------------------------------------------------------------------
# The tree


@dataclass
class _Open:
    cand: Candidate
    section: Section
    anchor: bool  # plain headings rank themselves under the nearest anchor


def _has_content(lines: list[Line], furniture: Set[int], first: int, last: int) -> bool:
    return any(not lines[j].blank and j not in furniture for j in range(first, last))


def build_tree(text: str, page_at=None, layout: Layout | None = None) -> list[Section]:
    """The section tree of ``text`` as a flat list in document order (parents before children)."""
    layout = layout or Layout.of(text)
    lines, furniture = layout.lines, layout.furniture
    if layout.wrapped:
        candidates, cover_end = wrapped_candidates(text, layout)
    else:
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
        if cand.level is not None:  # a wrapped report's heading knows its level
            rank = base + cand.level
            group_rank = None
        elif cand.style == "part":
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
        body_start = cand.start if kind == "paragraph" or cand.synthetic else _line_after(lines, cand.last_line, text)
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
                and cand.level is None
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
