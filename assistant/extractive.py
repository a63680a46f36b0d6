"""The default answer backend: no LLM, deterministic, quoting the reports' own words.

Committee reports answer most questions with a list under a telling heading ("What needs to
improve", "The areas for improvement are:") or with one sentence holding a fact ("by 6
inspectors", "graded as: Good"). So the backend splits each passage into headings, list items
and sentences, scores them by the question's words (weighted by rarity, with the reader's words
mapped to Ofsted's), and answers with whole lists where a list's label matches, or with the best
sentences otherwise, each carrying its passage's marker. It writes only verbatim report text,
so verification passes what it picks and rejects nothing it should keep.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from assistant.followup import resolve
from assistant.keywords import SCOPE_WORDS, expand_groups, stem, terms, title_terms
from assistant.models import Message, Passage
from assistant.verify import is_instruction

_BULLET = re.compile(r"^(\s*)(?:[-*\u2022\u2013]|\(?[a-z0-9]{1,3}[.)])\s+", re.IGNORECASE)
_INLINE_TAG = re.compile(r"</?(?:sup|sub|b|i|em|strong|u|span)>", re.IGNORECASE)
_PARA_NUMBER = re.compile(r"^\d+(?:\.\d+)+\s")  # "3.11 The inspection..." is a paragraph, not a list item
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]*(?=\s+[\"'\u201c\u2018(]?[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "no.", "cllr.", "mr.", "mrs.", "ms.", "dr.", "st.", "vs.")
_GRADE = re.compile(r"\b(outstanding|good|requires? improvement|inadequate)\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty)\b", re.IGNORECASE
)

_SCOPE_TERMS = frozenset(stem(w) for w in SCOPE_WORDS)
_GRADE_TERMS = frozenset(terms("grade judged"))
LIST_LABEL_MIN = 0.75  # share of the question's weight a list's label must match to quote it whole
ANSWER_MIN = 0.4  # below this the passages don't answer the question
KEEP_RATIO = 0.85  # other blocks nearly as good as the best are shown too
MAX_BLOCKS = 3
SECTION_MAX_UNITS = 4  # a matching section this short is quoted whole


@dataclass(frozen=True)
class Unit:
    kind: str  # heading | item | sentence
    text: str
    start: int  # offsets in the passage text
    end: int
    list_id: int | None = None  # consecutive items of one list share it
    label: str = ""  # for items: the heading or "...are:" sentence that introduces their list


def _sentences(line: str, offset: int) -> Iterator[tuple[str, int, int]]:
    start = 0
    for m in _SENTENCE_END.finditer(line):
        before = line[start : m.start() + 1]
        if before.lower().endswith(_ABBREVIATIONS) or re.search(r"\b[A-Z]\.$", before):
            continue
        yield line[start : m.end()], offset + start, offset + m.end()
        start = m.end()
        while start < len(line) and line[start].isspace():
            start += 1
    if line[start:].strip():
        yield line[start:], offset + start, offset + len(line)


def split_units(passage: Passage) -> list[Unit]:
    """Headings, list items and sentences of a passage, with offsets into its text."""
    units: list[Unit] = []
    list_id = 0
    in_list = led = False
    label = passage.section_title
    pos = 0
    for raw in passage.text.split("\n"):
        line_start = pos
        pos += len(raw) + 1
        stripped = raw.strip()
        if not stripped:
            continue
        lead = len(raw) - len(raw.lstrip())
        bullet = _BULLET.match(raw)
        body_offset = line_start + (bullet.end() if bullet else lead)
        body = raw[bullet.end() :] if bullet else raw[lead:]
        body = body.rstrip()
        if not units and line_start == 0 and passage.section_title and passage.section_title[:40] in body:
            units.append(Unit("heading", body, body_offset, body_offset + len(body)))
            continue
        own_number = bullet and raw[lead : bullet.end()].strip(" .)(") == passage.section  # "88. Adoption..."
        # " - 2.1 Adoption performance – Good" inside a list, or indented "3.1.1 ..." after "which are:"
        after_lead_in = bool(units and units[-1].text.endswith(":"))
        if after_lead_in:
            led = True  # "Cabinet is recommended to:" then "2.1 ...", "2.2 ..." is one list
        sub_item = after_lead_in or (in_list and (lead > 0 or led))
        if bullet and not own_number and (sub_item or not _PARA_NUMBER.match(body)):
            if not in_list:
                list_id += 1
                in_list = True
            units.append(Unit("item", body, body_offset, body_offset + len(body), list_id, label))
            continue
        in_list = led = False
        if numbered := _PARA_NUMBER.match(body):  # drop the paragraph number itself: "3.11 The inspection ..."
            body_offset += numbered.end()
            body = body[numbered.end() :]
        for text, s, e in _sentences(body, body_offset):
            units.append(Unit("sentence", text.strip(), s, s + len(text.strip())))
        if units and units[-1].text.endswith(":"):
            label = units[-1].text
        elif units and len(units[-1].text) < 80 and not units[-1].text.endswith("."):
            label = units[-1].text  # a short unpunctuated line is a sub-heading over what follows
    return units


def _clean(text: str) -> str:
    """Report text for reading: "1<sup>st</sup>" -> "1st". The quote keeps the original."""
    return _INLINE_TAG.sub("", text)


def _own_title(passage: Passage) -> str:
    """The heading a passage sits under: its own, or for a numbered paragraph its parent's."""
    for label in reversed(passage.section_path):
        if title_terms(label):
            return label
    return ""


@dataclass(frozen=True)
class _Block:
    passage: Passage
    units: tuple[Unit, ...]
    score: float


class ExtractiveBackend:
    """Answers by quoting; ``idf`` weighs rare words above common ones (the BM25 index's)."""

    name = "extractive"

    def __init__(self, idf: Callable[[str], float] | None = None) -> None:
        self.idf = idf or (lambda term: 1.0)

    # -- scoring ---------------------------------------------------------------------------

    def _coverage(self, groups: dict[str, float], alts: dict[str, frozenset[str]], text: str) -> float:
        """Share of the question's weighted terms that ``text`` has; a grade ("good",
        "requires improvement") answers the question's "grade" or "judged"."""
        total = sum(groups.values())
        if not total:
            return 0.0
        have = set(terms(text))
        if _GRADE.search(text):
            have |= _GRADE_TERMS
        return sum(w for t, w in groups.items() if alts[t] & have) / total

    def _weights(self, question: str, passages: Sequence[Passage]) -> tuple[dict[str, float], dict[str, frozenset[str]]]:
        """Rarer words weigh more; words no passage has weigh little ("visited" in "how many
        inspectors visited?"), and words about scope ("changed", "since") not at all."""
        alts = expand_groups([t for t in terms(question) if t not in _SCOPE_TERMS])
        present = set()
        for p in passages:
            present |= set(terms(p.text)) | set(terms(" ".join(p.section_path)))
        weights = {t: self.idf(t) * (1.0 if a & present else 0.3) for t, a in alts.items()}
        focus = re.search(r"\bhow (?:many|much) ([a-z]+)", question.lower())
        if focus and stem(focus.group(1)) in weights:  # what is being counted matters most
            weights[stem(focus.group(1))] *= 2
        return weights, alts

    @staticmethod
    def _intent(question: str) -> str:
        q = question.lower()
        if re.search(r"\bhow many\b|\bnumber of\b|\bhow much\b|\bhow long\b", q):
            return "count"
        if re.search(r"\b(grades?|graded|ratings?|rated|judge?ments?|judged|verdicts?)\b", q):
            return "grade"
        if re.search(r"\bwhen\b|\bwhat date\b", q):
            return "date"
        return "open"

    @staticmethod
    def _fits(intent: str, text: str) -> bool:
        if intent == "count":
            return bool(_NUMBER.search(text))
        if intent == "grade":
            return bool(_GRADE.search(text))
        if intent == "date":
            return bool(re.search(r"\b(19|20)\d\d\b|\b(january|february|march|april|may|june|july|august|september|october|november|december)\b", text, re.I))
        return True

    def blocks(self, question: str, passages: Sequence[Passage]) -> list[_Block]:
        """Candidate answers, best first: whole lists whose label matches, or single units."""
        weights, alts = self._weights(question, passages)
        intent = self._intent(question)
        best_retrieval = max((p.score for p in passages), default=0.0) or 1.0
        out: list[_Block] = []
        for passage in passages:
            # A sentence addressed to an AI model ("Ignore previous instructions...") is never an
            # answer, however well it matches the question; the verifier would refuse it anyway.
            units = [u for u in split_units(passage) if not is_instruction(u.text)]
            prior = 0.1 * passage.score / best_retrieval  # retrieval order breaks ties
            title = self._coverage(weights, alts, _own_title(passage))
            lists: dict[int, list[Unit]] = {}
            for u in units:
                if u.list_id is not None:
                    lists.setdefault(u.list_id, []).append(u)
            for items in lists.values():
                label = max(self._coverage(weights, alts, items[0].label), title)
                fits = intent == "open" or (intent == "grade" and all(self._fits(intent, u.text) for u in items))
                if fits and label >= LIST_LABEL_MIN:
                    out.append(_Block(passage, tuple(items), label + prior + 0.05))
            body = [u for u in units if u.kind != "heading"]
            if intent == "open" and title >= LIST_LABEL_MIN and 0 < len(body) <= SECTION_MAX_UNITS and not lists:
                # "What are the legal implications?": the section of that name, whole.
                out.append(_Block(passage, tuple(body), title + prior))
            for u in units:
                if not self._fits(intent, u.text) or (u.kind == "heading" and intent != "grade"):
                    continue  # a heading is an answer only when it carries a grade ("graded as: Good")
                if u.text.endswith(":"):
                    continue  # a lead-in ("Cabinet is recommended to:") is not an answer by itself
                own = self._coverage(weights, alts, u.text)
                if u.kind == "item":
                    own = max(own, 0.8 * self._coverage(weights, alts, f"{u.label} {u.text}"))
                score = 0.75 * own + 0.25 * title + prior
                out.append(_Block(passage, (u,), score))
        out.sort(key=lambda b: (-b.score, b.passage.number, b.units[0].start))
        return out

    def best_score(self, question: str, passages: Sequence[Passage]) -> float:
        """How well the best block answers (0 when none is good enough to quote)."""
        best = max((b.score for b in self.blocks(question, passages)), default=0.0)
        return best if best >= ANSWER_MIN else 0.0

    def select(self, question: str, passages: Sequence[Passage], *, per_report: bool = False) -> list[_Block]:
        """The blocks to quote: the best, and others nearly as good, never overlapping."""
        chosen: list[_Block] = []
        taken: set[tuple[int, int]] = set()
        best = None
        reports_done: set[str] = set()
        for block in self.blocks(question, passages):
            if block.score < ANSWER_MIN:
                break
            if best is None:
                best = block.score
            elif block.score < KEEP_RATIO * best and not (per_report and block.passage.report_id not in reports_done):
                continue
            keys = {(block.passage.number, u.start) for u in block.units}
            if keys & taken:
                continue
            if chosen and len(chosen[0].units) > 1 and len(block.units) == 1 and not per_report:
                continue  # the best answer is a whole list: stray sentences beside it add noise
            chosen.append(block)
            taken |= keys
            reports_done.add(block.passage.report_id)
            if len(chosen) >= MAX_BLOCKS + (len(reports_done) if per_report else 0):
                break
        return chosen

    # -- writing ---------------------------------------------------------------------------

    @staticmethod
    def render(blocks: Sequence[_Block], *, chronological: bool = False) -> str:
        by_passage: dict[int, list[_Block]] = {}
        for b in blocks:
            by_passage.setdefault(b.passage.number, []).append(b)
        groups = list(by_passage.values())
        first_seen = {}
        for g in groups:
            first_seen.setdefault(g[0].passage.report_id, len(first_seen))
        # Reports in order of relevance (or of date, to compare); within one, the report's order.
        groups.sort(key=lambda g: (g[0].passage.date or "" if chronological else first_seen[g[0].passage.report_id], g[0].passage.start))
        parts = []
        for group in groups:
            passage = group[0].passage
            lines = [f"**{passage.heading}**"]
            units = sorted((u for b in group for u in b.units), key=lambda u: u.start)
            sentences = [f"{_clean(u.text)} [{passage.number}]" for u in units if u.kind != "item"]
            if sentences:
                lines.append(" ".join(sentences))
            lines.extend(f"- {_clean(u.text)} [{passage.number}]" for u in units if u.kind == "item")
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def draft(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), *, compare: bool = False) -> str:
        return self.render(self.select(question, passages, per_report=compare), chronological=compare)

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> Iterator[str]:
        yield self.draft(question, passages, history)

    def condense(self, question: str, history: Sequence[Message]) -> str:
        return resolve(question, history)
