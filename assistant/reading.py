"""Reading the retrieved passages: which of their pieces answer the question, by meaning.

Ingest cut every report into units (headings, list items, sentences; ``ingest.units``) and
embedded each one, so here a question costs nothing but its own vector. Each unit of a retrieved
passage is scored by how close it is in meaning to the question, how close the headings above it
and the label of its list are (no rule maps a reader's words to a heading), how many of the question's rarer words it
shares, how well retrieval ranked its passage, and whether it has the shape the question asks for
(a number for "how many", a date for "when", a name for "who"). Whole lists are scored too, from
their label and their items. The weights are fitted on the tune half of the reader question sets
(``eval/fit_reading.py`` writes ``reading_weights.json``); nothing here names a phrasing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np

from assistant.keywords import terms
from assistant.models import Passage
from assistant.verify import is_instruction
from ingest.models import Section, Unit

AskKind = Literal["number", "date", "person", "reason", "yesno", "open"]

# The grammatical form of a question says what shape of answer it wants; its content does not
# enter here.
_FORMS: tuple[tuple[AskKind, re.Pattern[str]], ...] = (
    ("reason", re.compile(r"^\W*why\b|\bwhy\b|\bwhat\s+(?:led|caused)\b|\breasons?\s+(?:for|why)\b|\bhow\s+come\b", re.I)),
    ("number", re.compile(r"\bhow\s+(?:many|much|big|large)\b|\bwhat\s+(?:number|percentage|proportion|share|size|amount)\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bhow\s+long\b|\bwhat\s+(?:date|year|month|day|time)\b|\bsince\s+when\b", re.I)),
    ("person", re.compile(r"^\W*(?:and\s+)?(?:who|whom|whose)\b|\bname\s+of\s+the\b", re.I)),
    ("yesno", re.compile(r"^\W*(?:and\s+)?(?:is|are|was|were|did|does|do|has|have|had|can|could|will|would|should)\b", re.I)),
)
# The shapes themselves, as a reader would spot them.
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_SHAPES: dict[str, re.Pattern[str]] = {
    "number": re.compile(
        r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
        r"hundred|thousand|million|half|third|quarter|majority|minority|most|few)\b|%|per\s*cent", re.I),
    "date": re.compile(
        rf"\b(?:19|20)\d\d\b|\b{_MONTH}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\b(?:\d+|one|two|three|four|five|six|"
        r"several|few)[\s-]+(?:day|week|month|year)s?\b|\b(?:daily|weekly|monthly|annual(?:ly)?|since|until|by)\b", re.I),
    "person": re.compile(
        r"\b(?:Mr|Mrs|Ms|Miss|Dr|Cllr|Councillor|Professor|Dame|Sir)\.?\s+[A-Z]"
        r"|(?<=[a-z,:;] )[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)+"),
    "reason": re.compile(
        r"\b(?:because|due\s+to|as\s+a\s+result|owing\s+to|led\s+to|leads\s+to|resulting|result(?:ed)?\s+in|"
        r"so\s+that|therefore|consequently|means\s+that|reflects?|caused?|since|despite|however|but|not)\b", re.I),
}

GATED = ("number", "date", "person")  # kinds whose answer must have their shape
UNIT_FEATURES = ("sim", "head", "kw", "kw_head", "prior", "latest", "shape", "item", "sentence")
LIST_FEATURES = ("label", "head", "mean_sim", "max_sim", "kw_label", "prior", "latest", "items")


_MARKUP = re.compile(r"<[^<>]{0,200}>|!?\[[^\]]*\]\([^)]*\)|(?:https?://|www\.)\S+|javascript:\S+", re.IGNORECASE)


def _mostly_markup(text: str) -> bool:
    """More than half tags, links and addresses: page code pasted into a report, not a finding."""
    return sum(len(m.group(0)) for m in _MARKUP.finditer(text)) * 2 > len(text)


def ask_kind(question: str) -> AskKind:
    for kind, pattern in _FORMS:
        if pattern.search(question):
            return kind
    return "open"


@dataclass(frozen=True)
class ReportUnits:
    """One report's units with their vectors, as ingest stored them, and where each section's
    heading unit is (to score the headings above a unit)."""

    text: str
    units: list[Unit]
    vectors: np.ndarray  # one unit-length row per unit
    sections: dict[str, Section]
    heading_of: dict[str, int]  # section id -> index of its heading unit

    @classmethod
    def of(cls, text: str, sections: dict[str, Section], units: Sequence[Unit], vectors: Sequence[Sequence[float]]) -> ReportUnits:
        array = np.asarray(vectors, dtype=np.float32).reshape(len(units), -1) if len(units) else np.zeros((0, 1), np.float32)
        heading_of = {u.section_id: i for i, u in enumerate(units) if u.kind == "heading"}
        return cls(text, list(units), array, sections, heading_of)

    def headings_above(self, section_id: str) -> list[int]:
        """Heading units of a section and its ancestors, innermost first."""
        out, sid = [], section_id
        while sid:
            if sid in self.heading_of:
                out.append(self.heading_of[sid])
            parent = self.sections.get(sid)
            sid = parent.parent_id if parent else None
        return out


@dataclass(frozen=True)
class Piece:
    """A unit as an answer may quote it: offsets are the report's."""

    unit: Unit
    text: str  # the reader's text (one line, bullet left out)


@dataclass
class Candidate:
    """A piece of a passage that may answer: one unit, or a whole list."""

    passage: Passage
    pieces: tuple[Piece, ...]
    kind: Literal["unit", "list"]
    score: float
    features: dict[str, float] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return self.pieces[0].unit.start

    @property
    def is_list(self) -> bool:
        return self.kind == "list"


@dataclass(frozen=True)
class Weights:
    """Fitted on the tune half only (``eval/fit_reading.py``); see ``reading_weights.json``."""

    unit: dict[str, float]
    unit_bias: float
    list: dict[str, float]
    list_bias: float
    answer_min: float  # below this the best candidate does not answer: abstain
    keep_ratio: float  # other candidates within this share of the best are quoted too
    max_units: int
    list_over_units: float  # a list is preferred when its score is at least this share of the best unit's
    list_keep_ratio: float = 0.9  # another list is quoted too only when this close to the best list
    sim_min: float = 0.0  # a question no piece comes this close to in meaning is not answered
    report_keep_ratio: float = 0.9  # in a comparison, a report speaks when its best is this close to the best
    earlier_margin: float = 1.0  # an earlier report answers instead of the latest only when its best is this much better

    @classmethod
    def load(cls, path: str | None = None) -> Weights:
        raw = json.loads(resources.files("assistant").joinpath("reading_weights.json").read_text(encoding="utf-8")
                         if path is None else open(path, encoding="utf-8").read())
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def score(self, features: dict[str, float], *, is_list: bool) -> float:
        """A unit's or a list's score from its features: a logistic of their weighted sum."""
        if is_list:
            return _sigmoid(self.list_bias + sum(self.list[k] * features[k] for k in LIST_FEATURES))
        return _sigmoid(self.unit_bias + sum(self.unit[k] * features[k] for k in UNIT_FEATURES))


@lru_cache(maxsize=1)
def default_weights() -> Weights:
    return Weights.load()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


class Reader:
    """Scores the units of retrieved passages against one question."""

    def __init__(self, question: str, vector: Sequence[float], idf: Callable[[str], float],
                 weights: Weights | None = None) -> None:
        self.question = question
        self.kind = ask_kind(question)
        self.vector = np.asarray(vector, dtype=np.float32)
        self.weights = weights or default_weights()
        question_terms = list(dict.fromkeys(terms(question)))
        self._term_weights = {t: idf(t) for t in question_terms}
        self._total = sum(self._term_weights.values())

    def coverage(self, text: str) -> float:
        """Share of the question's words (weighted by rarity) that ``text`` holds."""
        if not self._total:
            return 0.0
        have = set(terms(text))
        return sum(w for t, w in self._term_weights.items() if t in have) / self._total

    def shape(self, text: str) -> float:
        pattern = _SHAPES.get(self.kind)
        return 1.0 if pattern is None else float(bool(pattern.search(text)))

    def candidates(self, passage: Passage, report: ReportUnits, *, prior: float = 1.0,
                   latest: bool = True) -> list[Candidate]:
        """Every unit of ``passage`` (and every list in it) with its features and score;
        ``prior`` is how retrieval ranked the passage (its score over the best passage's),
        ``latest`` whether its report is its council's latest (a question naming no year
        prefers it; an earlier report answers only when it answers clearly better)."""
        inside = [i for i, u in enumerate(report.units) if passage.start <= u.start and u.end <= passage.end]
        if not inside:
            return []
        sims = report.vectors @ self.vector if len(report.units) else np.zeros(0)
        w = self.weights
        out: list[Candidate] = []
        lists: dict[int, list[int]] = {}
        head_cache: dict[str, tuple[float, float]] = {}

        def heads(section_id: str) -> tuple[float, float]:
            if section_id not in head_cache:
                above = report.headings_above(section_id)
                best = max((float(sims[h]) for h in above), default=0.0)
                words = " ".join(report.units[h].text_in(report.text) for h in above)
                head_cache[section_id] = (best, self.coverage(words))
            return head_cache[section_id]

        for i in inside:
            unit = report.units[i]
            text = unit.text_in(report.text)
            if unit.kind == "heading" or unit.shared or is_instruction(text) or _mostly_markup(text):
                continue  # a heading is a label, boilerplate no finding, an instruction or markup no source
            if self.kind in GATED and not self.shape(text):
                continue  # "how many" is answered by a number, "when" by a date, "who" by a name
            head, kw_head = heads(unit.section_id)
            if unit.label is not None and unit.label != report.heading_of.get(unit.section_id):
                label_sim = float(sims[unit.label])
                head = max(head, label_sim)
            features = {
                "sim": float(sims[i]), "head": head, "kw": self.coverage(text), "kw_head": kw_head,
                "prior": prior, "latest": float(latest), "shape": self.shape(text), "item": float(unit.kind == "item"),
                "sentence": float(unit.kind == "sentence"),
            }
            score = w.score(features, is_list=False)
            out.append(Candidate(passage, (Piece(unit, text),), "unit", score, features))
            if unit.list_id is not None:
                lists.setdefault(unit.list_id, []).append(len(out) - 1)
        for members in lists.values():
            if len(members) < 2 or self.kind in GATED or self.kind == "reason":
                continue  # a whole list answers "what" and "which"; "why" is answered by the sentences giving reasons
            items = [out[m] for m in members]
            first = items[0].pieces[0].unit
            label = first.label
            label_text = report.units[label].text_in(report.text) if label is not None else ""
            head, kw_head = heads(first.section_id)
            features = {
                "label": float(sims[label]) if label is not None else head,
                "head": head,
                "mean_sim": float(np.mean([c.features["sim"] for c in items])),
                "max_sim": max(c.features["sim"] for c in items),
                "kw_label": max(self.coverage(label_text), kw_head),
                "prior": prior,
                "latest": float(latest),
                "items": math.log(len(items)),
            }
            score = w.score(features, is_list=True)
            out.append(Candidate(passage, tuple(p for c in items for p in c.pieces), "list", score, features))
        return out

    def select(self, candidates: Sequence[Candidate], *, per_report: bool = False) -> list[Candidate]:
        """What to quote: the best list, or the best units, and others nearly as good; nothing
        when the best does not reach ``answer_min``. ``per_report``: the best of each report
        (a comparison, or a question naming several councils)."""
        if per_report:
            # Each report that answers nearly as well as the best one: a comparison has both
            # sides, but a report that barely touches the question is not made to speak.
            top = self.best(candidates)
            chosen: list[Candidate] = []
            for rid in dict.fromkeys(c.passage.report_id for c in candidates):
                mine = [c for c in candidates if c.passage.report_id == rid]
                if self.best(mine) >= self.weights.report_keep_ratio * top:
                    chosen += self.select(mine)
            return chosen
        w = self.weights
        candidates = self._one_report(candidates)
        units = sorted((c for c in candidates if not c.is_list), key=lambda c: -c.score)
        lists = sorted((c for c in candidates if c.is_list), key=lambda c: -c.score)
        best_unit = units[0].score if units else 0.0
        best_list = lists[0].score if lists else 0.0
        closest = max((c.features.get("sim", 0.0) for c in units), default=0.0)
        if max(best_unit, best_list) < w.answer_min or closest < w.sim_min:
            return []
        if lists and best_list >= w.list_over_units * best_unit:
            pool, best, limit, ratio = lists, best_list, 3, w.list_keep_ratio
        else:
            pool, best, limit, ratio = units, best_unit, w.max_units, w.keep_ratio
        chosen, taken = [], set()
        for c in pool:
            if c.score < ratio * best or len(chosen) >= limit:
                break
            keys = {(c.passage.report_id, p.unit.index) for p in c.pieces}
            if keys & taken:
                continue
            chosen.append(c)
            taken |= keys
        return chosen

    def _one_report(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """The candidates of the report that answers: the best of the council's latest reports,
        unless an earlier one answers ``earlier_margin`` times better."""
        latest = [c for c in candidates if c.features.get("latest", 1.0)]
        earlier = [c for c in candidates if not c.features.get("latest", 1.0)]
        pool = latest if latest and self.best(earlier) < self.weights.earlier_margin * self.best(latest) else earlier
        if not pool:
            return []
        top = max(pool, key=lambda c: c.score).passage.report_id
        return [c for c in pool if c.passage.report_id == top]

    def best(self, candidates: Sequence[Candidate]) -> float:
        return max((c.score for c in candidates), default=0.0)

