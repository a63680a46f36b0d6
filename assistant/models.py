"""What the assistant passes between its steps and hands to callers.

A ``Passage`` is what an answer may cite: a verbatim slice of one report, numbered as it was
shown to the answer backend. A ``Citation`` is what survived verification: the passage it
points into plus the exact supporting quote and its offsets in the report text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, str]  # {"role": "user" | "assistant", "content": str}


@dataclass(frozen=True)
class Passage:
    """One numbered source given to a backend; ``text == report_text[start:end]``."""

    number: int
    report_id: str
    source: str
    council: str | None
    meeting: str | None
    date: str | None  # ISO meeting date
    section_id: str
    section: str  # the section's label: "3.11", "1. Summary of Report"
    section_title: str
    section_path: tuple[str, ...]
    text: str
    start: int
    end: int
    score: float = 0.0
    page: int | None = None
    date_kind: str | None = None  # what ``date`` is: "meeting", "published"... (ReportMeta.date_kind)

    @property
    def report(self) -> str:
        """The report, as a reader names it: "North Somerset Council, Executive, 21 Oct 2020"."""
        return describe_report(self.council, self.meeting, self.date, self.date_kind)

    @property
    def heading(self) -> str:
        """How a reader sees the source: "North Somerset Council, Executive, 21 Oct 2020 — 1. Summary › X"."""
        return f"{self.report} — {' › '.join(self.section_path)}"


@dataclass(frozen=True)
class Citation:
    marker: int
    passage: Passage
    quote: str
    start: int  # offsets of ``quote`` in the report text
    end: int

    def to_dict(self) -> dict[str, Any]:
        p = self.passage
        return {
            "marker": self.marker,
            "source": p.source,
            "report_id": p.report_id,
            "council": p.council,
            "meeting": p.meeting,
            "date": p.date,
            "section": p.section,
            "section_title": p.section_title,
            "section_path": " › ".join(p.section_path),
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "page": p.page,
        }


@dataclass
class Answer:
    question: str
    answer: str  # text with [n] markers, every one of which is in ``citations``
    answered: bool
    citations: list[Citation]
    retrieved: list[Passage]
    backend: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # said by the assistant, not by a report
    standalone_question: str | None = None  # the question as searched, after follow-up resolution
    filters: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)
    closest: list[Citation] = field(default_factory=list)  # a refusal's nearest passages; not an answer
    # How the answer was chosen, for fitting and debugging (eval/fit_reading.py); not serialised.
    trace: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "answered": self.answered,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [
                {
                    "source": p.source,
                    "report_id": p.report_id,
                    "section": p.section,
                    "section_title": p.section_title,
                    "score": round(p.score, 6),
                    "text": p.text,
                }
                for p in self.retrieved
            ],
            "backend": self.backend,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "notes": list(self.notes),
            "standalone_question": self.standalone_question,
            "filters": dict(self.filters),
            "verification": dict(self.verification),
            "closest": [c.to_dict() for c in self.closest],
        }


_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def format_date(iso: str | None) -> str | None:
    """``2020-10-21`` -> ``21 Oct 2020``; anything else is returned as it came."""
    if not iso:
        return None
    try:
        year, month, day = (int(x) for x in iso[:10].split("-"))
        return f"{day} {_MONTHS[month - 1]} {year}"
    except (ValueError, IndexError):
        return iso


def describe_report(council: str | None, meeting: str | None, date: str | None, date_kind: str | None = None) -> str:
    """A report in a few words, saying which date it is where it is not a meeting's:
    "Dorset Council, Ofsted report published 9 May 2025"."""
    when = format_date(date)
    if when and date_kind and date_kind != "meeting":
        when = f"Ofsted report {date_kind.split(' (')[0]} {when}" if date_kind.startswith("published") else f"{date_kind} {when}"
    parts = [council or "Unknown council", meeting, when]
    return ", ".join(p for p in parts if p)


def describe_meta(meta: Any) -> str:
    """``describe_report`` for a ReportMeta."""
    return describe_report(meta.council, meta.meeting, meta.date, getattr(meta, "date_kind", None))


def passage_dict(p: Passage) -> dict[str, Any]:
    data = asdict(p)
    data["section_path"] = list(p.section_path)
    return data
