"""Hybrid retrieval: dense vectors from the Chroma store plus BM25, fused by reciprocal rank.

A LangChain ``BaseRetriever`` so users can compose it (``retriever | prompt | model``) and so
it passes langchain-tests' standard retriever suite. Restricting to reports (``report_ids``)
happens inside both searches, before ranking, so another council's passage can never crowd out
the one asked about.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from assistant.bm25 import BM25
from assistant.keywords import terms, title_terms
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


Chunk = tuple[dict[str, Any], str]


class _KeywordIndex:
    """BM25 over every current chunk, kept in step with the store report by report.

    When the store changes, only reports that are new, changed or gone are fetched and their
    postings added or taken out (``refresh``); an ingest elsewhere costs a reader the changed
    reports, not a rebuild over the whole corpus. Each chunk's BM25 key is (report id, position
    in the report), so the index ranks exactly as one built afresh.

    ``lock`` guards every read against a refresh in another thread: take it around a search
    and the use of the slots it returns.
    """

    def __init__(self, generation: str = "") -> None:
        self.generation = generation
        self.versions: dict[str, str] = {}  # report id -> the version indexed
        self.chunks: dict[int, Chunk] = {}  # BM25 slot -> (metadata, text)
        self.by_report: dict[str, list[int]] = {}  # report id -> its slots, in chunk order
        self.bm25 = BM25()
        self.lock = threading.Lock()

    @classmethod
    def build(cls, store: ReportStore, generation: str) -> _KeywordIndex:
        index = cls()
        index.refresh(store, generation)
        return index

    def refresh(self, store: ReportStore, generation: str) -> None:
        """Bring the index to the store's current reports (fetching is done outside ``lock``)."""
        current = {r.meta.report_id: r.version for r in store.list_reports()}
        stale = sorted(rid for rid in current if self.versions.get(rid) != current[rid])
        gone = [rid for rid in self.versions if rid not in current]
        fetched: dict[str, list[Chunk]] = {rid: [] for rid in stale}
        if stale:
            # The first build reads the whole store in one pass rather than report by report.
            for meta, text in store.all_chunks(report_ids=stale if self.versions else None):
                if meta["report_id"] in fetched:
                    fetched[meta["report_id"]].append((meta, text))
        tokenised = {
            rid: [(meta, text, _tokens(meta, text)) for meta, text in sorted(chunks, key=_position)]
            for rid, chunks in fetched.items()
        }
        with self.lock:
            for rid in gone + stale:
                for slot in self.by_report.pop(rid, []):
                    meta, text = self.chunks.pop(slot)
                    self.bm25.remove(slot, _tokens(meta, text))
                self.versions.pop(rid, None)
            for rid in stale:
                slots = self.by_report[rid] = []
                for position, (meta, text, tokens) in enumerate(tokenised[rid]):
                    slot = self.bm25.add(tokens, key=(rid, position))
                    self.chunks[slot] = (meta, text)
                    slots.append(slot)
                self.versions[rid] = current[rid]
            self.generation = generation


def _chunk_at(index: _KeywordIndex, report_id: str, offset: int, after: bool) -> Chunk | None:
    """The chunk of a report holding ``offset`` (or, ``after``, the first to start at or after it)."""
    for slot in index.by_report.get(report_id, ()):
        meta, text = index.chunks[slot]
        start, end = int(meta.get("start", 0)), int(meta.get("end", 0))
        if start <= offset < end or (after and start >= offset):
            return meta, text
    return None


def _position(chunk: Chunk) -> int:
    index = chunk[0].get("index")
    return index if isinstance(index, int) else 0


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
    units_weight: float = 1.0  # the chunks holding the headings, items and sentences nearest the query
    rrf_k: int = 60
    report_ids: list[str] | None = None  # restrict every search to these reports

    _index: _KeywordIndex | None = PrivateAttr(default=None)
    _refresh_lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, store: ReportStore, embedder: Embedder, **overrides: Any) -> HybridRetriever:
        params = dict(
            store=store,
            embedder=embedder,
            k=settings.k,
            fetch_k=settings.fetch_k,
            dense_weight=settings.dense_weight,
            bm25_weight=settings.bm25_weight,
            units_weight=settings.units_weight,
            rrf_k=settings.rrf_k,
        )
        return cls(**{**params, **overrides})

    def keyword_index(self) -> _KeywordIndex:
        """The keyword index, first brought up to date if the store's generation has moved."""
        generation = self.store.generation()
        index = self._index
        if index is not None and index.generation == generation:
            return index
        with self._refresh_lock:  # one refresh at a time; askers meanwhile search the index as it was
            if self._index is None:
                self._index = _KeywordIndex.build(self.store, generation)
            elif self._index.generation != generation:
                self._index.refresh(self.store, generation)
            log.debug("keyword index holds %d chunks", len(self._index.chunks))
            return self._index

    def _dense(self, query: str, n: int, report_ids: Sequence[str] | None, current: dict[str, str],
               vector: Sequence[float] | None = None) -> list[tuple[dict, str]]:
        where = None
        if report_ids is not None:
            where = {"report_id": {"$in": list(report_ids)}} if len(report_ids) != 1 else {"report_id": report_ids[0]}
        hits = self.store.query(vector if vector is not None else self.embedder.embed_query(query), k=n, where=where)
        # A replace interrupted mid-way can leave an old version's chunks; never return them.
        # A hit read while another process rewrites the store can come back without its
        # metadata (Chroma server): it is no current chunk, so it is left out.
        return [(m, text) for m, text, _ in hits
                if m and m.get("report_id") is not None and current.get(m["report_id"]) == m.get("version")]

    def _by_units(self, vector: Sequence[float], n: int, report_ids: Sequence[str] | None,
                  current: dict[str, str], index: _KeywordIndex) -> list[Chunk]:
        """Chunks ranked by their nearest unit: a heading ("What needs to improve?") or a
        sentence can be close to a question whose words its chunk as a whole does not match.
        A heading stands for the chunk after it, as its section's text follows it."""
        out: list[Chunk] = []
        seen: set[str] = set()
        with index.lock:
            for meta, _ in self.store.query_units(vector, k=n, report_ids=report_ids):
                rid = meta.get("report_id")
                if current.get(rid) != meta.get("version"):
                    continue
                chunk = _chunk_at(index, rid, int(meta.get("start", 0)), meta.get("kind") == "heading")
                if chunk is not None and chunk[0]["chunk_id"] not in seen:
                    seen.add(chunk[0]["chunk_id"])
                    out.append(chunk)
        return out

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        report_ids: Sequence[str] | None = None,
        query_vector: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``query_vector``: the query's embedding when the caller has it already."""
        k = self.k if k is None else k
        if k < 1:
            return []
        if report_ids is None:
            report_ids = self.report_ids
        if report_ids is not None and not report_ids:
            return []
        index = self.keyword_index()
        n = max(self.fetch_k, k)
        with index.lock:  # a snapshot: a refresh in another thread waits until it is taken
            if not index.chunks:
                return []
            current = dict(index.versions)
            keyword: list[Chunk] = []
            if self.bm25_weight > 0:
                allowed = None
                if report_ids is not None:
                    allowed = {slot for r in report_ids for slot in index.by_report.get(r, ())}
                keyword = [index.chunks[i] for i, _ in index.bm25.top(terms(query), n, allowed)]

        fused: dict[str, dict[str, Any]] = {}

        def add(rank: int, meta: dict, text: str, which: str, weight: float) -> None:
            entry = fused.setdefault(meta["chunk_id"], {"meta": meta, "text": text, "score": 0.0})
            entry[which] = rank
            entry["score"] += weight / (self.rrf_k + rank)

        vector = query_vector
        if (self.dense_weight > 0 or self.units_weight > 0) and vector is None:
            vector = self.embedder.embed_query(query)
        if self.dense_weight > 0:
            for rank, (meta, text) in enumerate(self._dense(query, n, report_ids, current, vector), 1):
                add(rank, meta, text, "dense_rank", self.dense_weight)
        if self.units_weight > 0:
            for rank, (meta, text) in enumerate(self._by_units(vector, n, report_ids, current, index), 1):
                add(rank, meta, text, "units_rank", self.units_weight)
        for rank, (meta, text) in enumerate(keyword, 1):
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
                    "units_rank": e.get("units_rank"),
                },
            )
            for e in ranked
        ]
