"""Running question sets through the assistant (and the naive baseline) and scoring them.

The Python API the CLI and the UI share: ``evaluate(sets, assistant)`` returns one ``EvalRun``
per system, each with per-question results, an overall summary and a per-type breakdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from assistant.models import Answer
from eval.metrics import QuestionResult, by_type, score, summarise
from eval.questionset import EvalQuestion, QuestionSet, is_path_ref

Progress = Callable[[EvalQuestion], None]


@dataclass
class EvalRun:
    system: str
    sets: list[str]
    results: list[QuestionResult]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        return summarise(self.results)

    @property
    def by_type(self) -> dict[str, dict[str, Any]]:
        return by_type(self.results)

    @property
    def failures(self) -> list[QuestionResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "sets": self.sets,
            "settings": self.settings,
            "summary": self.summary,
            "by_type": self.by_type,
            "results": [r.to_dict() for r in self.results],
        }


class _Corpus:
    """Report texts and section spans from the store, read once per report."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._paths: dict[str, str] | None = None
        self.text = lru_cache(maxsize=None)(self._text)
        self._sections = lru_cache(maxsize=None)(lambda rid: {s.id: (s.start, s.end) for s in store.sections(rid)})

    def _text(self, report_id: str) -> str:
        try:
            return self.store.report_text(report_id)
        except KeyError:
            return ""  # a question about a report that is not ingested: its evidence is never found

    def resolve(self, question: EvalQuestion) -> EvalQuestion:
        """``question`` with reports named by path ("<folder>/<file>.pdf") turned into the ids
        the store gave them. A path matches the stored report whose file's path ends with it; a
        report not in the store keeps its path, so its evidence is never found."""
        refs = {r for r in question.reports if is_path_ref(r)}
        if not refs:
            return question
        ids = {ref: self._by_path().get(_path_key(ref), ref) for ref in refs}
        return question.model_copy(update={
            "reports": [ids.get(r, r) for r in question.reports],
            "evidence": [e.model_copy(update={"report": ids.get(e.report, e.report)}) for e in question.evidence],
        })

    def _by_path(self) -> dict[str, str]:
        if self._paths is None:
            self._paths = {_path_key(r.meta.source_path): r.meta.report_id
                           for r in self.store.list_reports() if r.meta.source_path}
        return self._paths

    def section_span(self, report_id: str, section_id: str) -> tuple[int, int] | None:
        if section_id.startswith("chunk-"):
            return None  # the baseline cites chunks, not sections
        return self._sections(report_id).get(section_id, (0, 0))


def _path_key(path: str) -> str:
    """The last folder and the file name: how a set's path names a stored file wherever the
    folder of reports was copied to."""
    return "/".join(path.replace("\\", "/").split("/")[-2:])


def run(
    system: str,
    questions: Sequence[EvalQuestion],
    ask: Callable[[EvalQuestion], Answer],
    store: Any,
    *,
    set_names: Sequence[str] = (),
    settings: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    corpus = _Corpus(store)
    results = []
    for q in questions:
        q = corpus.resolve(q)
        results.append(score(q, ask(q), corpus.text, corpus.section_span))
        if progress:
            progress(q)
    return EvalRun(system=system, sets=list(set_names), results=results, settings=settings or {})


def evaluate(
    sets: Sequence[QuestionSet],
    assistant: Any,
    *,
    k: int | None = None,
    backend: str | None = None,
    baseline: bool = False,
    progress: Progress | None = None,
) -> list[EvalRun]:
    """Every question of ``sets`` through ``assistant`` (and the naive baseline if asked)."""
    questions = [q for s in sets for q in s.questions]
    names = [s.name for s in sets]
    engine = backend or assistant.backend_name
    runs = [
        run(
            f"reports-qa ({engine})",
            questions,
            lambda q: assistant.ask(q.question, history=[t.model_dump() for t in q.history], k=k, backend=backend),
            assistant.store,
            set_names=names,
            settings={"backend": engine, "k": k or assistant.settings.k, "fetch_k": assistant.settings.fetch_k,
                      "embedding_model": assistant.settings.embedding_model},
            progress=progress,
        )
    ]
    if baseline:
        from eval.baseline import NaiveBaseline

        reports = [(r.meta, assistant.store.report_text(r.meta.report_id)) for r in assistant.store.list_reports()]
        naive = NaiveBaseline(reports, assistant.embedder)
        runs.append(
            run("naive baseline", questions, lambda q: naive.ask(q.question), assistant.store, set_names=names,
                settings={"chunk_size": 1000, "overlap": 200, "k": naive.k, "search": "dense only"},
                progress=progress)
        )
    return runs
