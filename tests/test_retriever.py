"""Hybrid retrieval over a real Chroma store: the standard LangChain retriever suite, filters,
fusion, and the keyword index following the store's contents."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.bm25 import BM25
from assistant.keywords import stem, terms
from assistant.retriever import HybridRetriever
from tests.samples import NORTH_SOMERSET, SOUTHEND_2019, SWINDON

SOUTHEND_2019_ID, SWINDON_ID, NS_ID = SOUTHEND_2019[:-4], SWINDON[:-4], NORTH_SOMERSET[:-4]


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    """langchain-tests' own suite, against the sample corpus."""

    _params: dict = {}

    @pytest.fixture(autouse=True)
    def _sample_corpus(self, assistant):
        type(self)._params = {"store": assistant.store, "embedder": assistant.embedder}

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {**self._params, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "quality of planning for children in need of protection"


def test_report_filter_is_applied_inside_both_searches(assistant):
    retriever = HybridRetriever(store=assistant.store, embedder=assistant.embedder, k=8)
    docs = retriever.invoke("areas for improvement", report_ids=[SWINDON_ID])
    assert len(docs) == 8
    assert {d.metadata["report_id"] for d in docs} == {SWINDON_ID}
    assert retriever.invoke("areas for improvement", report_ids=[]) == []


def test_keyword_search_finds_an_acronym_the_embedding_misses(assistant):
    retriever = HybridRetriever(store=assistant.store, embedder=assistant.embedder, k=3)
    docs = retriever.invoke("PLO pre-proceedings")
    top = docs[0]
    assert top.metadata["report_id"] == SOUTHEND_2019_ID
    assert "public law outline (PLO)" in top.page_content
    assert top.metadata["bm25_rank"] == 1


def test_documents_carry_fusion_evidence_and_are_sorted(assistant):
    retriever = HybridRetriever(store=assistant.store, embedder=assistant.embedder, k=6)
    docs = retriever.invoke("What needs to improve?", report_ids=[NS_ID])
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    for d in docs:
        assert isinstance(d, Document) and d.id == d.metadata["chunk_id"]
        assert d.metadata["dense_rank"] or d.metadata["bm25_rank"]
    assert any(d.metadata["section_path"].endswith("What needs to improve") for d in docs[:3])


def test_weights_switch_either_search_off(assistant):
    dense = HybridRetriever(store=assistant.store, embedder=assistant.embedder, k=5, bm25_weight=0)
    keyword = HybridRetriever(store=assistant.store, embedder=assistant.embedder, k=5, dense_weight=0)
    assert all(d.metadata["bm25_rank"] is None for d in dense.invoke("inspectors"))
    assert all(d.metadata["dense_rank"] is None for d in keyword.invoke("inspectors"))


def test_keyword_index_follows_the_store(store, embedder, make_report, embed_report):
    retriever = HybridRetriever(store=store, embedder=embedder, k=3)
    assert retriever.invoke("volunteers") == []
    report = make_report()
    store.put_report(report, embed_report(report))
    docs = retriever.invoke("volunteers", k=1)
    assert docs and "volunteers" in docs[0].page_content
    store.remove_report(report.meta.report_id)
    assert retriever.invoke("volunteers") == []


def test_keyword_index_follows_writes_by_another_client(settings, store, embedder, make_report, embed_report):
    """Another client (as another process would) replaces one report and adds one: the index
    picks both up in place, and keeps what it held for the report that did not change."""
    from vectorstore.store import ReportStore

    kept, replaced = make_report(report_id="kept-report"), make_report(report_id="replaced-report")
    for r in (kept, replaced):
        store.put_report(r, embed_report(r))
    retriever = HybridRetriever(store=store, embedder=embedder, k=3, dense_weight=0)
    before = retriever.keyword_index()
    generation = before.generation
    assert {m["report_id"] for m, _ in before.chunks.values()} == {"kept-report", "replaced-report"}
    kept_chunks = {slot: before.chunks[slot] for slot in before.by_report["kept-report"]}

    new_text = make_report().text.replace("volunteers", "apprentices")
    newer = make_report(new_text, report_id="replaced-report")
    added = make_report(report_id="added-report")
    with ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension) as other:
        other.put_report(newer, embed_report(newer))
        other.put_report(added, embed_report(added))

    after = retriever.keyword_index()
    assert after is before and after.generation == store.generation() != generation
    assert all(after.chunks[slot] is chunk for slot, chunk in kept_chunks.items())  # not fetched again
    assert after.by_report["kept-report"] == list(kept_chunks)
    assert after.versions["replaced-report"] == newer.meta.content_hash
    hits = {d.metadata["report_id"] for d in retriever.invoke("apprentices")}
    assert hits == {"replaced-report"}
    assert {d.metadata["report_id"] for d in retriever.invoke("volunteers")} == {"kept-report", "added-report"}
    assert retriever.keyword_index().generation == after.generation  # nothing changed: nothing refreshed


def test_bm25_prefers_rare_terms_and_normalises_length():
    docs = [terms(t) for t in (
        "children in care children in care children",
        "the inspectors visited children in care on many days",
        "inspectors saw children",
    )]
    bm25 = BM25(docs)
    assert bm25.idf(stem("inspectors")) > bm25.idf(stem("children"))
    ranked = [i for i, _ in bm25.top(terms("inspectors"), 3)]
    assert ranked == [2, 1], "the short passage wins; a passage without the word is not returned"
    assert bm25.top(terms("inspectors"), 3, allowed={1}) == bm25.top(terms("inspectors"), 1, allowed={1})
    assert BM25([]).top(["x"], 3) == []


def test_keywords_join_inflections():
    assert {stem(w) for w in ("improve", "improving", "improvement", "improvements")} == {"improv"}
    assert terms("What needs to improve in North Somerset?") == ["need", "improv", "north", "somerset"]
