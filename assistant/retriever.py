"""Hybrid retrieval: dense vectors from the Chroma store plus BM25, fused by reciprocal rank.

A LangChain ``BaseRetriever`` so users can compose it (``retriever | prompt | model``) and so
it passes langchain-tests' standard retriever suite. Restricting to reports (``report_ids``)
happens inside both searches, before ranking, so another council's passage can never crowd out
the one asked about.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from assistant.bm25 import BM25
from assistant.keywords import expand, terms, title_terms
from reports_qa.settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.store import ReportStore

log = logging.getLogger(__name__)


def _tokens(meta: dict[str, Any], text: str) -> list[str]:
    """What BM25 indexes for a chunk.

    A section's own title is strong evidence ("What needs to improve" over a list that never
    says "improve"), so it counts three times; the rest of its path once. A numbered paragraph
    ("3.1") takes its title from the heading above it.
    """
    path = (meta.get("section_path") or "").split(" › ")
    titled = next((i for i in range(len(path) - 1, -1, -1) if title_terms(path[i])), None)
    title = title_terms(path[titled]) if titled is not None else []
    rest = [c for i, c in enumerate(path) if i != titled]
    return title * 3 + terms(" ".join(rest)) + terms(text)


# report id -> (version, its chunks as (metadata, text, tokens))
Tokenised = dict[str, tuple[str, list[tuple[dict[str, Any], str, list[str]]]]]


class _KeywordIndex:
    """BM25 over every current chunk.

    When the store changes, only reports that are new or changed are fetched and tokenised
    again; the rest are reused (see ``refreshed``), so an ingest elsewhere costs the readers
    the postings rebuild, not a re-read of the whole corpus.
    """

    def __init__(self, reports: Tokenised, generation: str) -> None:
        self.generation = generation
        self.reports = reports
        self.versions = {rid: version for rid, (version, _) in reports.items()}
        self.chunks: list[tuple[dict[str, Any], str]] = []
        self.by_report: dict[str, set[int]] = {}
        docs = []
        for rid in sorted(reports):
            for meta, text, tokens in reports[rid][1]:
                self.by_report.setdefault(rid, set()).add(len(self.chunks))
                self.chunks.append((meta, text))
                docs.append(tokens)
        self.bm25 = BM25(docs)

    @classmethod
    def refreshed(cls, old: _KeywordIndex | None, store: ReportStore, generation: str) -> _KeywordIndex:
        current = {r.meta.report_id: r.version for r in store.list_reports()}
        kept = old.reports if old is not None else {}
        reports: Tokenised = {rid: kept[rid] for rid, v in current.items() if rid in kept and kept[rid][0] == v}
        missing = [rid for rid in current if rid not in reports]
        if missing:
            fetched: dict[str, list] = {rid: [] for rid in missing}
            for meta, text in store.all_chunks(report_ids=missing if old is not None else None):
                if meta["report_id"] in fetched:
                    fetched[meta["report_id"]].append((meta, text, _tokens(meta, text)))
            reports.update({rid: (current[rid], chunks) for rid, chunks in fetched.items()})
        return cls(reports, generation)


class HybridRetriever(BaseRetriever):
    """Top ``k`` chunks for a query by weighted reciprocal rank fusion of dense and BM25 ranks.

    Each Document carries the chunk's store metadata plus ``score`` (fused), ``dense_rank`` and
    ``bm25_rank`` (None where that search did not return it).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any = Field(description="a vectorstore.store.ReportStore")
    embedder: Any = Field(description="a vectorstore.embeddings.Embedder")
    k: int = 6
    fetch_k: int = 40
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    report_ids: list[str] | None = None  # restrict every search to these reports

    _index: _KeywordIndex | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings, store: ReportStore, embedder: Embedder, **overrides: Any) -> HybridRetriever:
        params = dict(
            store=store,
            embedder=embedder,
            k=settings.k,
            fetch_k=settings.fetch_k,
            dense_weight=settings.dense_weight,
            bm25_weight=settings.bm25_weight,
            rrf_k=settings.rrf_k,
        )
        return cls(**{**params, **overrides})

    def keyword_index(self) -> _KeywordIndex:
        generation = self.store.generation()
        if self._index is None or self._index.generation != generation:
            self._index = _KeywordIndex.refreshed(self._index, self.store, generation)
            log.debug("keyword index built over %d chunks", len(self._index.chunks))
        return self._index

    def _dense(self, query: str, n: int, report_ids: Sequence[str] | None, current: dict[str, str]) -> list[tuple[dict, str]]:
        where = None
        if report_ids is not None:
            where = {"report_id": {"$in": list(report_ids)}} if len(report_ids) != 1 else {"report_id": report_ids[0]}
        hits = self.store.query(self.embedder.embed_query(query), k=n, where=where)
        # A replace interrupted mid-way can leave an old version's chunks; never return them.
        return [(m, text) for m, text, _ in hits if current.get(m["report_id"]) == m.get("version")]

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        report_ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        k = self.k if k is None else k
        if k < 1:
            return []
        if report_ids is None:
            report_ids = self.report_ids
        if report_ids is not None and not report_ids:
            return []
        index = self.keyword_index()
        if not index.chunks:
            return []
        current = index.versions
        n = max(self.fetch_k, k)

        fused: dict[str, dict[str, Any]] = {}

        def add(rank: int, meta: dict, text: str, which: str, weight: float) -> None:
            entry = fused.setdefault(meta["chunk_id"], {"meta": meta, "text": text, "score": 0.0})
            entry[which] = rank
            entry["score"] += weight / (self.rrf_k + rank)

        if self.dense_weight > 0:
            for rank, (meta, text) in enumerate(self._dense(query, n, report_ids, current), 1):
                add(rank, meta, text, "dense_rank", self.dense_weight)
        if self.bm25_weight > 0:
            allowed = None
            if report_ids is not None:
                allowed = set().union(*(index.by_report.get(r, set()) for r in report_ids))
            for rank, (i, _) in enumerate(index.bm25.top(expand(terms(query)), n, allowed), 1):
                meta, text = index.chunks[i]
                add(rank, meta, text, "bm25_rank", self.bm25_weight)

        ranked = sorted(fused.values(), key=lambda e: (-e["score"], e["meta"]["chunk_id"]))[:k]
        return [
            Document(
                id=e["meta"]["chunk_id"],
                page_content=e["text"],
                metadata={
                    **{key: value for key, value in e["meta"].items() if value is not None},
                    "score": e["score"],
                    "dense_rank": e.get("dense_rank"),
                    "bm25_rank": e.get("bm25_rank"),
                },
            )
            for e in ranked
        ]
