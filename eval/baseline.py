"""The naive chain the common LangChain tutorial builds, as a yardstick.

Fixed 1000-character chunks with 200 overlap (cut at whitespace), dense-only top-4 with the same
MiniLM model over the same reports, no sections, no council or year filters, no verification.
It answers with the same extractive backend and reading (its chunks' units cut and embedded
when retrieved), so what the comparison measures is everything else: section-aware chunks,
units at ingest, hybrid search, scope and verification.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from assistant.extractive import ExtractiveBackend
from assistant.models import Answer, Citation, Message, Passage
from assistant.reading import Candidate, Reader, ReportUnits
from ingest.models import ReportMeta, Section
from ingest.units import cut_units
from vectorstore.embeddings import Embedder


def split_characters(text: str, size: int = 1000, overlap: int = 200) -> list[tuple[int, int]]:
    """Spans of at most ``size`` characters, each starting ``overlap`` before the last one ended."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > 0 else end
        spans.append((start, end))
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        while start < end and not text[start - 1].isspace():
            start += 1  # begin on a word
    return spans


class NaiveBaseline:
    name = "naive-baseline"

    def __init__(self, reports: Sequence[tuple[ReportMeta, str]], embedder: Embedder, *, k: int = 4,
                 chunk_size: int = 1000, overlap: int = 200) -> None:
        self.embedder = embedder
        self.k = k
        self.chunks: list[Passage] = []
        for meta, text in reports:
            for i, (start, end) in enumerate(split_characters(text, chunk_size, overlap)):
                self.chunks.append(
                    Passage(number=0, report_id=meta.report_id, source=meta.source, council=meta.council,
                            meeting=meta.meeting, date=meta.date, section_id=f"chunk-{i}", section=f"chunk {i + 1}",
                            section_title="", section_path=(f"chunk {i + 1}",), text=text[start:end],
                            start=start, end=end)
                )
        self.vectors = np.array(embedder.embed([c.text for c in self.chunks]), dtype=np.float32)
        self.extractive = ExtractiveBackend(self._read)
        self._units: dict[tuple[str, int], ReportUnits] = {}

    def _read(self, question: str, passages: Sequence[Passage]) -> tuple[Reader, list[Candidate]]:
        """Reading as the assistant does it, with each chunk's units cut and embedded when first
        retrieved (the tutorial's chain has no units at ingest)."""
        reader = Reader(question, self.embedder.embed_query(question), lambda term: 1.0)
        candidates = []
        for p in passages:
            key = (p.report_id, p.start)
            if key not in self._units:
                section = Section(p.section_id, "heading", None, "", 1, None, (p.section,), 0, len(p.text), 0, len(p.text))
                units = cut_units(p.text, [section])
                units = [replace(u, start=u.start + p.start, end=u.end + p.start) for u in units]
                text = " " * p.start + p.text  # offsets are the report's
                vectors = self.embedder.embed([u.text_in(text) for u in units]) if units else []
                self._units[key] = ReportUnits.of(text, {section.id: section}, units, vectors)
            candidates += reader.candidates(p, self._units[key])
        return reader, candidates

    def ask(self, question: str, history: list[Message] | None = None, **_: object) -> Answer:
        started = time.perf_counter()
        scores = self.vectors @ np.array(self.embedder.embed_query(question), dtype=np.float32)
        top = np.argsort(-scores)[: self.k]
        passages = [
            Passage(**{**self.chunks[i].__dict__, "number": n, "score": float(scores[i])})
            for n, i in enumerate(top, 1)
        ]
        retrieved_at = time.perf_counter()
        draft = self.extractive.draft(question, passages)
        by_number = {p.number: p for p in passages}
        markers = sorted({int(m) for m in re.findall(r"\[(\d+)\]", draft)})
        # No verification: each [n] cites its whole chunk, as the tutorial's "sources" do.
        citations = [Citation(n, by_number[n], by_number[n].text, by_number[n].start, by_number[n].end)
                     for n in markers if n in by_number]
        done = time.perf_counter()
        return Answer(
            question=question,
            answer=draft or "I don't know.",
            answered=bool(draft),
            citations=citations,
            retrieved=passages,
            backend=self.name,
            timings_ms={"retrieve": (retrieved_at - started) * 1000, "generate": (done - retrieved_at) * 1000,
                        "total": (done - started) * 1000},
        )
