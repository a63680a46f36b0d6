"""Question in, verified answer out: scope → retrieve → passages → draft → verify.

The one place that puts the steps together, for the CLI, the UI and the eval runner alike.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from assistant import grades
from assistant.backend import AnswerBackend, BackendError
from assistant.extractive import ExtractiveBackend
from assistant.followup import strip_places
from assistant.keywords import SCOPE_WORDS, terms
from assistant.models import Answer, Citation, Message, Passage, describe_meta
from assistant.reading import Candidate, Reader, ReportUnits
from assistant.retriever import HybridRetriever
from assistant.scope import (
    YEAR,
    Filters,
    Scope,
    ScopeError,
    chronological,
    held_summary,
    infer_scope,
    latest_per_council,
)
from assistant.verify import verify
from ingest.judgements import Judgement
from ingest.models import ReportMeta, Section
from ingest.units import cut_units
from reports_qa.settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.store import ReportStore, open_store

log = logging.getLogger(__name__)

MAX_PASSAGE_CHARS = 3000  # a section longer than this is given as its retrieved chunks only
MAX_QUESTION_CHARS = 2000
BACKENDS = ("extractive", "llamacpp", "openai")
DEFAULT_TOPIC = "overall judgement"
UNITS_CACHED = 64  # reports whose units (with vectors) are kept in memory
QUERY_VECTORS_CACHED = 256


class Assistant:
    """Answers questions over the reports in one store, with verified citations."""

    def __init__(
        self,
        settings: Settings,
        store: ReportStore,
        embedder: Embedder,
        *,
        backend: str | AnswerBackend | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.retriever = HybridRetriever.from_settings(settings, store, embedder)
        self._backend = backend or settings.backend
        self._llm: AnswerBackend | None = None if isinstance(self._backend, str) else self._backend
        self._reports: dict[str, tuple[str, str, dict[str, Section]]] = {}  # id -> (version, text, sections)
        self._units: OrderedDict[tuple[str, str], ReportUnits] = OrderedDict()
        self._query_vectors: OrderedDict[str, list[float]] = OrderedDict()
        self.reranker = None
        if settings.rerank_model:
            from assistant.rerank import Reranker

            self.reranker = Reranker(settings.rerank_model)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, backend: str | None = None) -> Assistant:
        settings = settings or Settings()
        store, embedder = open_store(settings)  # questions are embedded with the store's runtime
        assistant = cls(settings, store, embedder, backend=backend)
        assistant._owns_store = True
        return assistant

    def close(self) -> None:
        if getattr(self, "_owns_store", False):
            self.store.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend_name(self) -> str:
        return self._backend if isinstance(self._backend, str) else self._backend.name

    def catalogue(self) -> list[ReportMeta]:
        return [r.meta for r in self.store.list_reports()]

    # -- passages ------------------------------------------------------------------------------

    def _report(self, report_id: str, version: str) -> tuple[str, dict[str, Section]]:
        cached = self._reports.get(report_id)
        if cached is None or cached[0] != version:
            sections = {s.id: s for s in self.store.sections(report_id)}
            cached = (version, self.store.report_text(report_id), sections)
            self._reports[report_id] = cached
        return cached[1], cached[2]

    def _meta(self, report_id: str) -> ReportMeta | None:
        record = self.store.listed(report_id)
        return record.meta if record else None

    def _version(self, report_id: str) -> str | None:
        record = self.store.listed(report_id)
        return record.version if record else None

    def report_units(self, report_id: str) -> ReportUnits | None:
        """A report's units and their vectors (kept for the last ``UNITS_CACHED`` reports). A
        report stored before units existed has them cut and embedded here, until it is ingested
        again."""
        version = self._version(report_id)
        if version is None:
            return None
        key = (report_id, version)
        if key in self._units:
            self._units.move_to_end(key)
            return self._units[key]
        text, sections = self._report(report_id, version)
        stored = self.store.units(report_id, version)
        if stored:
            units, vectors = [u for u, _ in stored], [v for _, v in stored]
        else:
            units = cut_units(text, list(sections.values()))
            vectors = self.embedder.embed([u.text_in(text) for u in units]) if units else []
        self._units[key] = found = ReportUnits.of(text, sections, units, vectors)
        while len(self._units) > UNITS_CACHED:
            self._units.popitem(last=False)
        return found

    def years_about(self, meta: ReportMeta) -> set[int]:
        """Years a report is about besides its own date: the inspection it reports on, as its
        judgements were read from its text (a 2016 committee page on a 2019 inspection)."""
        years = {j.inspection_year for m, j in self.store.judgements([meta.report_id])
                 if not j.previous and j.inspection_year}
        return years | {int(d[:4]) for d in (meta.inspection_start, meta.inspection_end, meta.published) if d}

    def query_vector(self, query: str) -> list[float]:
        """The question's vector, computed once for retrieval and reading alike."""
        if query in self._query_vectors:
            self._query_vectors.move_to_end(query)
            return self._query_vectors[query]
        vector = self._query_vectors[query] = self.embedder.embed_query(query)
        while len(self._query_vectors) > QUERY_VECTORS_CACHED:
            self._query_vectors.popitem(last=False)
        return vector

    def read(self, query: str, passages: Sequence[Passage],
             latest: set[str] | None = None) -> tuple[Reader, list[Candidate]]:
        """Every unit (and list) of ``passages`` scored against ``query``: see assistant.reading.
        ``latest``: the reports that are their council's latest (None: all are)."""
        reader = Reader(query, self.query_vector(query), self.retriever.keyword_index().bm25.idf)
        best = max((p.score for p in passages), default=0.0) or 1.0
        candidates: list[Candidate] = []
        for p in passages:
            units = self.report_units(p.report_id)
            if units is not None:
                candidates += reader.candidates(p, units, prior=p.score / best,
                                                latest=latest is None or p.report_id in latest)
        return reader, candidates

    def passages(self, docs: Sequence[Any], limit: int, *, first_number: int = 1) -> list[Passage]:
        """Retrieved chunks grouped by section, as numbered verbatim passages, best first.

        A section is given whole (heading and its own text) so a list is never cut short; a
        very long one is given as the span of its retrieved chunks.
        """
        groups: dict[tuple[str, str], list[Any]] = {}
        for doc in docs:
            m = doc.metadata
            groups.setdefault((m["report_id"], m["section_id"]), []).append(doc)
        chosen = list(groups)[:limit]
        # Fusion can bury a section one search ranks first and the other misses entirely (BM25
        # finds "Individual judgements were:", MiniLM does not): such sections always get a place.
        for key, group in groups.items():
            top = any(min(d.metadata.get(rank) or 99 for rank in ("bm25_rank", "dense_rank", "units_rank")) <= 2
                      for d in group)
            if top and key not in chosen:
                chosen.append(key)
        out: list[Passage] = []
        for report_id, section_id in chosen:
            group = groups[(report_id, section_id)]
            m = group[0].metadata
            text, sections = self._report(report_id, m["version"])
            section = sections.get(section_id)
            if section is not None and section.body_end - section.start <= MAX_PASSAGE_CHARS:
                start, end = section.start, section.body_end
                # "...the areas that need to improve further, which are:" goes on in its sub-paragraphs.
                if text[start:end].rstrip().endswith(":") and section.end - start <= MAX_PASSAGE_CHARS:
                    end = section.end
            else:
                start = min(d.metadata["start"] for d in group)
                end = max(d.metadata["end"] for d in group)
            meta = self._meta(report_id)
            out.append(
                Passage(
                    number=first_number + len(out),
                    report_id=report_id,
                    source=meta.source if meta else m["source"],
                    council=meta.council if meta else m.get("council"),
                    meeting=meta.meeting if meta else m.get("meeting"),
                    date=meta.date if meta else m.get("date"),
                    date_kind=meta.date_kind if meta else None,
                    section_id=section_id,
                    section=section.label if section else (m.get("section_number") or m.get("section_title") or ""),
                    section_title=m.get("section_title") or "",
                    section_path=tuple((m.get("section_path") or "").split(" › ")),
                    text=text[start:end],
                    start=start,
                    end=end,
                    score=max(d.metadata["score"] for d in group),
                    page=m.get("page"),
                )
            )
        return out

    def judgement_passage(self, meta: ReportMeta, j: Judgement, number: int) -> Passage | None:
        """The section a judgement was read from, as a citable passage (None if the text moved on)."""
        record = self.store.listed(meta.report_id)
        if record is None:
            return None
        text, sections = self._report(meta.report_id, record.version)
        if text[j.start : j.end] != j.quote:
            return None
        holding = [s for s in sections.values() if s.start <= j.start and j.end <= s.end]
        if not holding:
            return None
        section = min(holding, key=lambda s: (s.end - s.start, -s.level))
        start, end = section.start, section.end
        if end - start > MAX_PASSAGE_CHARS:  # a long section: the lines around the quote
            start = max(start, text.rfind("\n", start, max(start, j.start - MAX_PASSAGE_CHARS // 3)) + 1)
            end = min(end, max(j.end, start + MAX_PASSAGE_CHARS))
        return Passage(
            number=number,
            report_id=meta.report_id,
            source=meta.source,
            council=meta.council,
            meeting=meta.meeting,
            date=meta.date,
            date_kind=meta.date_kind,
            section_id=section.id,
            section=section.label,
            section_title=section.title,
            section_path=tuple(section.path),
            text=text[start:end],
            start=start,
            end=end,
            page=section.page,
        )

    def _graded_in_years(self, query: grades.GradeQuery, question: str, catalogue: list[ReportMeta],
                         filters: dict[str, Any] | None, years: list[int]) -> grades.GradeAnswer | None:
        """Grades of an inspection in ``years`` that a report of another year states ("Southend's
        grades in 2012", stated by its 2016 report), when no report of those years is held."""
        try:
            wider = infer_scope(YEAR.sub(" ", question), catalogue, Filters.from_dict(filters))
        except ScopeError:
            return None
        if wider.refusal:
            return None
        reports = wider.reports + wider.earlier
        rows = [(m, j) for m, j in self.store.judgements() if j.inspection_year in years]
        return grades.answer(query, reports, rows, self.judgement_passage, compare=wider.compare, years=years,
                             one_council=len({m.council for m in reports}) == 1)

    def _search(self, query: str, k: int, report_ids: list[str] | None) -> list[Any]:
        docs = self.retriever.invoke(query, k=k, report_ids=report_ids, query_vector=self.query_vector(query))
        return self.reranker.rerank(query, docs) if self.reranker else docs

    def _retrieve(self, query: str, scope: Scope, k: int, catalogue: list[ReportMeta]) -> list[Passage]:
        whole = len(scope.reports) == len(catalogue)
        fetch = max(3 * k, 12)
        if scope.per_report:
            # Each report gets its own share, so a comparison has both sides and a question
            # naming several councils an answer for each.
            per = max(2, k // len(scope.reports))
            passages: list[Passage] = []
            for meta in scope.reports:
                found = self._search(query, fetch, [meta.report_id])
                passages += self.passages(found, per, first_number=len(passages) + 1)
            return passages
        docs = self._search(query, fetch, None if whole else scope.report_ids)
        return self.passages(docs, k)

    # -- backends ------------------------------------------------------------------------------

    def _backend_for(self, name: str | None) -> AnswerBackend:
        name = name or self.backend_name
        if name == "extractive":
            return ExtractiveBackend(self.read)
        if self._llm is not None and self._llm.name.split(":")[0] == name.split(":")[0]:
            return self._llm
        if name not in BACKENDS:
            raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
        from assistant.llm import make_llm_backend

        self._llm = make_llm_backend(self.settings.model_copy(update={"backend": name}))
        return self._llm

    # -- answering -----------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: list[Message] | None = None,
        filters: dict[str, Any] | None = None,
        *,
        k: int | None = None,
        backend: str | None = None,
    ) -> Answer:
        answer = None
        for item in self.stream(question, history, filters, k=k, backend=backend):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: list[Message] | None = None,
        filters: dict[str, Any] | None = None,
        *,
        k: int | None = None,
        backend: str | None = None,
    ) -> Iterator[str | Answer]:
        """The draft's pieces as the backend writes them, then the verified ``Answer``.

        The streamed text is unverified; the final Answer replaces it.
        """
        started = time.perf_counter()
        question = (question or "").strip()[:MAX_QUESTION_CHARS]
        history = list(history or [])
        k = k or self.settings.k
        engine = self._backend_for(backend)

        def refuse(text: str, **extra: Any) -> Answer:
            total = (time.perf_counter() - started) * 1000
            return Answer(
                question=question,
                answer=text,
                answered=False,
                citations=[],
                retrieved=[],
                backend=engine.name,
                timings_ms={"retrieve": 0.0, "generate": 0.0, "total": total},
                **extra,
            )

        if not question:
            yield refuse("Please ask a question about the reports.")
            return
        catalogue = self.catalogue()
        if not catalogue:
            yield refuse("I hold no reports yet. Add some with `reports-qa ingest PATH` (or the app's upload).")
            return
        standalone = engine.condense(question, history) if history else question
        try:
            scope = infer_scope(standalone, catalogue, Filters.from_dict(filters), self.years_about)
        except ScopeError as exc:
            yield refuse(str(exc), standalone_question=standalone)
            return
        scope_dict = scope.to_dict(len(catalogue))
        tick = time.perf_counter()
        grade_query = grades.parse(standalone)
        graded = None
        if grade_query is not None and scope.refusal and scope.years:
            graded = self._graded_in_years(grade_query, standalone, catalogue, filters, scope.years)
        if scope.refusal and graded is None:
            yield refuse(scope.refusal, standalone_question=standalone, filters=scope_dict, notes=scope.notes)
            return

        if grade_query is not None:
            if graded is None:
                # Across councils, each council's latest inspection unless the question names years.
                graded_reports = scope.reports
                if not scope.years and not scope.compare and not grade_query.previous:
                    graded_reports = latest_per_council(scope.reports)
                earlier = [m for m in scope.reports if m not in graded_reports]
                graded = grades.answer(grade_query, graded_reports, self.store.judgements(), self.judgement_passage,
                                       compare=scope.compare, years=scope.years,
                                       one_council=len({m.council for m in scope.reports}) == 1,
                                       earlier_reports=earlier)
            if graded is not None and not grade_query.why:
                yield graded.text
                yield Answer(
                    question=question,
                    answer=graded.text,
                    answered=True,
                    citations=graded.citations,
                    retrieved=graded.passages,
                    backend=engine.name,
                    timings_ms={"retrieve": (time.perf_counter() - tick) * 1000, "generate": 0.0,
                                "total": (time.perf_counter() - started) * 1000},
                    notes=list(scope.notes),
                    standalone_question=standalone,
                    filters=scope_dict,
                    verification={"method": "judgement records", "citations": len(graded.citations)},
                )
                return

        query = strip_places(standalone) if scope.inferred else standalone
        if scope.compare:  # "how did X change" searches for X in each report
            query = " ".join(w for w in query.split() if w.lower().strip("?,.!") not in SCOPE_WORDS)
        if not terms(query):  # "How did Southend do in 2016?": the overall verdict is the answer
            query = DEFAULT_TOPIC
        timings = {"retrieve": 0.0, "generate": 0.0}
        # A council's earlier reports are searched too: its latest is preferred (reading weighs
        # that), but an earlier one answers when it answers clearly better ("school attendance"
        # is only in Southend's 2016 report), and a committee paper beside an Ofsted report may
        # be what the question is about.
        latest = set(scope.report_ids) if scope.earlier else None
        searched_scope = replace(scope, reports=chronological(scope.reports + scope.earlier)) if scope.earlier else scope
        # Reading picks from twice as many passages as an answer draws on: the extractive backend
        # quotes the pieces that answer, an LLM is given the k passages reading ranks first.
        tick = time.perf_counter()
        passages = self._retrieve(query, searched_scope, 2 * k, catalogue)
        timings["retrieve"] += (time.perf_counter() - tick) * 1000
        tick = time.perf_counter()
        reader, candidates = self.read(query, passages, latest)
        trace = {"query": query, "reader": reader, "candidates": candidates, "per_report": scope.per_report}
        if isinstance(engine, ExtractiveBackend):
            draft = engine.write(reader, candidates, per_report=scope.per_report)
            yield draft
        else:
            passages = _by_reading(passages, candidates)[:k]
            pieces = []
            for piece in engine.stream(standalone, passages, history):
                pieces.append(piece)
                yield piece
            draft = "".join(pieces)
        timings["generate"] += (time.perf_counter() - tick) * 1000
        verified = verify(draft, passages, threshold=self.settings.citation_threshold)
        cited = {c.passage.report_id for c in verified.citations}
        if latest is not None and verified.answered and not cited & latest:
            # An earlier report answered where the latest did not, or better: say so.
            newest = ", ".join(describe_meta(m) for m in scope.reports)
            scope.notes = [f"This answer comes from an earlier report; the latest ({newest}) says less on this."]
        notes = list(scope.notes)
        removed = verified.report.get("removed") or []
        if removed and engine.name != "extractive":
            notes.append(
                f"{len(removed)} statement(s) in the draft answer were removed because the cited reports do not support them."
            )
        text = verified.answer
        citations = verified.citations
        closest: list[Citation] = []
        if not verified.answered:
            searched = ", ".join(sorted({p.council or p.source for p in passages})) or held_summary(scope.reports)
            text = f"The reports I hold don't say. I searched the reports on {searched}."
            closest = _closest(trace.get("candidates", []))
            if closest and graded is None:
                text += "\n\nClosest I found, which may not answer the question:\n" + "\n".join(
                    f"- “{' '.join(c.quote.split())}” ({c.passage.heading})" for c in closest)
        if graded is not None:  # "why was X rated Y?": the grade from its record, the reasons from the text
            text, citations = _with_reasons(graded, text if verified.answered else "", verified.citations)
            passages = graded.passages + passages
        yield Answer(
            question=question,
            answer=text,
            answered=verified.answered or graded is not None,
            citations=citations,
            retrieved=passages,
            backend=engine.name,
            timings_ms={**timings, "total": (time.perf_counter() - started) * 1000},
            notes=notes,
            standalone_question=standalone,
            filters=scope_dict,
            verification=verified.report,
            closest=closest,
            trace=trace,
        )


CLOSEST = 3  # pieces offered, clearly not as an answer, when the reports do not answer


def _by_reading(passages: Sequence[Passage], candidates: Sequence[Candidate]) -> list[Passage]:
    """``passages`` best first by what reading makes of them, renumbered: an LLM is shown the
    passages that answer, not only those retrieval ranked first."""
    best: dict[int, float] = {}
    for c in candidates:
        best[c.passage.number] = max(best.get(c.passage.number, 0.0), c.score)
    ordered = sorted(passages, key=lambda p: (-best.get(p.number, 0.0), p.number))
    return [replace(p, number=i) for i, p in enumerate(ordered, 1)]


def _closest(candidates: Sequence[Candidate]) -> list[Citation]:
    """The best-scoring sentences or items of distinct passages: what a refusal offers the reader
    to look at, with offsets so each can be opened, never as an answer."""
    out: list[Citation] = []
    seen: set[int] = set()
    for c in sorted((c for c in candidates if not c.is_list), key=lambda c: -c.score):
        if c.passage.number in seen:
            continue
        seen.add(c.passage.number)
        unit = c.pieces[0].unit
        p = c.passage
        out.append(Citation(len(out) + 1, p, p.text[unit.start - p.start : unit.end - p.start], unit.start, unit.end))
        if len(out) == CLOSEST:
            break
    return out


_MARKER_NUMBERS = re.compile(r"\[(\s*\d{1,3}(?:\s*(?:[,;&]|-|–|and)\s*\d{1,3})*\s*)\]")


def _with_reasons(graded: grades.GradeAnswer, reasons: str, cited: list[Citation]) -> tuple[str, list[Citation]]:
    """The grade lines, then the retrieved reasons with their markers numbered on after them."""
    if not reasons:
        return graded.text + "\n\nThe reports I hold give no reasons for this beyond the passages cited.", graded.citations
    shift = len(graded.citations)

    def renumber(m: re.Match[str]) -> str:
        return "[" + re.sub(r"\d+", lambda d: str(int(d.group()) + shift), m.group(1)) + "]"

    moved = [replace(c, marker=c.marker + shift) for c in cited]
    return f"{graded.text}\n\nWhy, in the reports' words:\n{_MARKER_NUMBERS.sub(renumber, reasons)}", graded.citations + moved
