"""The default answer backend: no LLM, deterministic, quoting the reports' own words.

What to quote is decided by reading (``assistant.reading``): the units of the retrieved passages
scored by meaning against the question. This backend writes the answer in the shape the chosen
pieces have: a short line saying where they come from (the report, and the section's own
heading), then the points, each with its passage's marker; a whole list when a list answers,
and for a comparison each report in date order. It writes only verbatim report text and
metadata, so verification passes what it picks and rejects nothing it should keep.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from assistant.followup import resolve
from assistant.models import Message, Passage
from assistant.reading import Candidate, Reader

_INLINE_TAG = re.compile(r"</?(?:sup|sub|b|i|em|strong|u|span)>", re.IGNORECASE)

# Reads passages against a question: the Reader and every scored candidate.
ReadFn = Callable[[str, Sequence[Passage]], tuple[Reader, list[Candidate]]]


def _clean(text: str) -> str:
    """Report text for reading: "1<sup>st</sup>" -> "1st". The quote keeps the original; the app
    shows everything else of it as text (ui/sources.md_text)."""
    return _INLINE_TAG.sub("", text)


FRAMING_TITLE_WORDS = 8  # a framing line stays one short line (the verifier keeps lines of up to 20 words)


def framing(passage: Passage, title: str) -> str:
    """Where the points come from: the report, and the heading they sit under (the report's own
    words, never a claim about what the points say)."""
    where = passage.report
    words = title.split()
    if len(words) > FRAMING_TITLE_WORDS:
        title = " ".join(words[:FRAMING_TITLE_WORDS]) + "…"
    return f"**From {where}, “{title}”:**" if title else f"**From {where}:**"


def _title_of(candidate: Candidate) -> str:
    """The heading a candidate sits under, as the report labels it ("2. Findings", "What needs
    to improve"): the innermost section label with words, not a paragraph's bare number."""
    for label in reversed(candidate.passage.section_path):
        if re.sub(r"^[\s\d.()]+", "", label):
            return label.rstrip(":")
    return ""


def render(chosen: Sequence[Candidate], *, chronological: bool = False) -> str:
    """The answer text: per report, a framing line and the points with their markers."""
    by_report: dict[str, list[Candidate]] = {}
    for c in chosen:
        by_report.setdefault(c.passage.report_id, []).append(c)
    groups = list(by_report.values())
    if chronological:
        groups.sort(key=lambda g: g[0].passage.date or "")
    parts = []
    for group in groups:
        top = max(group, key=lambda c: c.score)
        group.sort(key=lambda c: (c.passage.start, c.start))
        lines = [framing(top.passage, _title_of(top))]
        for c in group:
            for piece in c.pieces:
                lines.append(f"- {_clean(piece.text)} [{c.passage.number}]")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


class ExtractiveBackend:
    """Answers by quoting what reading chose; ``read`` scores passages against a question."""

    name = "extractive"

    def __init__(self, read: ReadFn) -> None:
        self.read = read

    def write(self, reader: Reader, candidates: Sequence[Candidate], *, per_report: bool = False) -> str:
        """The answer from what ``reader`` chooses of ``candidates`` (the pipeline keeps them, to
        offer the closest pieces when nothing answers)."""
        return render(reader.select(candidates, per_report=per_report), chronological=per_report)

    def draft(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), *,
              compare: bool = False) -> str:
        return self.write(*self.read(question, passages), per_report=compare)

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> Iterator[str]:
        yield self.draft(question, passages, history)

    def condense(self, question: str, history: Sequence[Message]) -> str:
        return resolve(question, history)
