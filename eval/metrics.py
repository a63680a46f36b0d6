"""Scoring one answer against its question's answer key, and summing up a run.

- **recall@k**: share of the evidence passages that some retrieved passage holds (at least half
  of the evidence's characters inside it, at any place the evidence occurs in its report; line
  breaks and spaces in the evidence match any whitespace, as a PDF breaks lines by layout).
- **MRR**: 1 / rank of the first retrieved passage holding any evidence (0 if none).
- **citation precision**: share of citations whose quote is exactly the report's text at its
  offsets, inside the cited section, in a report the question is about.
- **citation support**: share of evidence passages that the cited text overlaps (half or more).
- **key-point recall**: share of key points whose every content word appears in the answer.
  Words are compared after lower-casing, dropping stopwords, stemming ("improved" = "improve" =
  "improvement"), turning number words into digits ("six" = "6") and ignoring "per cent"/"%"
  and thousands separators ("1,200" = "1200").
- **abstention**: an unanswerable question answered=false, an answerable one answered=true.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.keywords import terms
from assistant.models import Answer
from eval.questionset import EvalQuestion

METRICS = ("recall", "mrr", "citation_precision", "citation_support", "key_point_recall", "abstention")


@dataclass
class QuestionResult:
    id: str
    type: str
    question: str
    answered: bool
    answer: str
    recall: float | None  # None where the metric does not apply (unanswerable, no citations)
    mrr: float | None
    citation_precision: float | None
    citation_support: float | None
    key_point_recall: float | None
    abstention: float
    timings_ms: dict[str, float]
    missing_key_points: list[str] = field(default_factory=list)
    bad_citations: list[int] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    retrieved: int = 0

    @property
    def passed(self) -> bool:
        return bool(self.abstention) and not self.missing_key_points and not self.bad_citations and self.recall != 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _key_terms(text: str) -> set[str]:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    text = re.sub(r"\bper ?cent\b|%", " ", text)
    return set(terms(text))


def find_spans(text: str, needle: str) -> list[tuple[int, int]]:
    """Every place ``needle`` occurs in ``text``, where any run of whitespace in it matches any
    run in the text: a PDF's text breaks sentences at its layout's line ends, and an answer key
    quotes the sentence, not the layout."""
    words = needle.split()
    if not words:
        return []
    pattern = re.compile(r"\s+".join(map(re.escape, words)))
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _holds(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    """At least half of ``inner`` lies inside ``outer``."""
    overlap = min(outer[1], inner[1]) - max(outer[0], inner[0])
    return overlap * 2 >= inner[1] - inner[0]


def score(
    question: EvalQuestion,
    answer: Answer,
    report_text: Callable[[str], str],
    section_span: Callable[[str, str], tuple[int, int] | None],
) -> QuestionResult:
    """One answer against its key; ``report_text``/``section_span`` read the store."""
    evidence = [(e.report, find_spans(report_text(e.report), e.text)) for e in question.evidence]
    retrieved = [(p.report_id, (p.start, p.end)) for p in answer.retrieved]
    cited = [(c.passage.report_id, (c.start, c.end)) for c in answer.citations]

    def found(report: str, spans: list[tuple[int, int]], among: list[tuple[str, tuple[int, int]]]) -> bool:
        return any(r == report and _holds(span, s) for r, span in among for s in spans)

    recall = mrr = support = key_recall = precision = None
    missing: list[str] = []
    if question.answerable:
        recall = sum(found(r, s, retrieved) for r, s in evidence) / len(evidence)
        ranks = [i for i, (r, span) in enumerate(retrieved, 1)
                 if any(r == er and _holds(span, s) for er, spans in evidence for s in spans)]
        mrr = 1 / ranks[0] if ranks else 0.0
        support = sum(found(r, s, cited) for r, s in evidence) / len(evidence)
        have = _key_terms(answer.answer)
        missing = [k for k in question.key_points if not _key_terms(k) <= have]
        key_recall = 1 - len(missing) / len(question.key_points) if question.key_points else None
    bad: list[int] = []
    for c in answer.citations:
        span = section_span(c.passage.report_id, c.passage.section_id)
        ok = report_text(c.passage.report_id)[c.start : c.end] == c.quote
        ok = ok and (span is None or span[0] <= c.start and c.end <= span[1])
        ok = ok and (not question.reports or c.passage.report_id in question.reports)
        if not ok:
            bad.append(c.marker)
    if answer.citations and question.answerable:
        precision = 1 - len(bad) / len(answer.citations)
    return QuestionResult(
        id=question.id,
        type=question.type,
        question=question.question,
        answered=answer.answered,
        answer=answer.answer,
        recall=recall,
        mrr=mrr,
        citation_precision=precision,
        citation_support=support,
        key_point_recall=key_recall,
        abstention=float(answer.answered == question.answerable),
        timings_ms=dict(answer.timings_ms),
        missing_key_points=missing,
        bad_citations=bad,
        citations=[c.to_dict() for c in answer.citations],
        retrieved=len(answer.retrieved),
    )


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def summarise(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Mean of each metric (over the questions it applies to), pass count and latency."""
    summary: dict[str, Any] = {"questions": len(results), "passed": sum(r.passed for r in results)}
    for metric in METRICS:
        summary[metric] = _mean([getattr(r, metric) for r in results])
    summary["latency_ms"] = {
        stage: {
            "p50": round(percentile([r.timings_ms.get(stage, 0.0) for r in results], 0.5), 1),
            "p95": round(percentile([r.timings_ms.get(stage, 0.0) for r in results], 0.95), 1),
        }
        for stage in ("retrieve", "generate", "total")
    }
    return summary


def by_type(results: Sequence[QuestionResult]) -> dict[str, dict[str, Any]]:
    types = sorted({r.type for r in results})
    return {t: summarise([r for r in results if r.type == t]) for t in types}
