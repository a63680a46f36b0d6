"""BM25 updated in place ranks exactly as BM25 built afresh, over the real sample reports.

The keyword index follows the store report by report (added, replaced, removed) instead of
rebuilding its postings; these tests hold it to a fresh build of the same chunks: the same
postings, idf, scores and ranks, ties included.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from assistant.bm25 import BM25
from assistant.keywords import terms
from assistant.retriever import HybridRetriever, _tokens
from reports_qa.settings import SAMPLE_REPORTS_DIR
from tests.samples import ALL, NORTH_SOMERSET, SOUTHWARK, SWINDON, sample_text

QUESTIONS = [
    "What needs to improve in North Somerset?",
    "How many inspectors visited Swindon?",
    "What are the recommendations to the Cabinet?",
    "PLO pre-proceedings",
    "children in care and care leavers",
    "What did the inspectors say about the front door?",
    "financial implications",
    "legal implications",
    "risk management",
    "What grade did they get overall?",
    "social worker caseloads",
    "missing children",
    "examiners",
    "adoption",
]


@pytest.fixture(scope="module")
def parser(embedder, tmp_path_factory):
    """Parses a report file as ingest does (the real loader, section parser and chunker)."""
    from ingest.loaders import load_document
    from reports_qa.settings import Settings
    from vectorstore.indexer import Indexer

    indexer = Indexer(None, embedder, Settings(data_dir=tmp_path_factory.mktemp("unused")))  # type: ignore[arg-type]
    return lambda path: indexer.parse(load_document(Path(path)))


@pytest.fixture(scope="module")
def sample_chunks(parser) -> list[tuple[dict, str]]:
    """Every chunk of the five sample reports as (metadata the index reads, text)."""
    out = []
    for name in ALL:
        report = parser(Path(SAMPLE_REPORTS_DIR) / name)
        paths = {s.id: " › ".join(s.path) for s in report.sections}
        for c in report.chunks:
            out.append(({"report_id": c.report_id, "chunk_id": c.chunk_id, "section_path": paths[c.section_id]}, c.text))
    return out


def put(store, report, dimension: int = 384) -> None:
    """Keyword search never reads vectors: a fixed unit vector per chunk (and unit) spares ~40 s of embedding."""
    store.put_report(report, [[1.0] + [0.0] * (dimension - 1)] * len(report.embed_texts()))


def ranked(bm25: BM25, query: str, n: int = 40, allowed=None) -> list[tuple[object, float]]:
    """``top`` by key rather than slot, so indexes with different slots compare."""
    return [(bm25.keys[slot], score) for slot, score in bm25.top(terms(query), n, allowed)]


def test_bm25_added_and_removed_in_any_order_ranks_as_a_fresh_build(sample_chunks):
    docs = {chunk_id: _tokens(meta, text) for (meta, text) in sample_chunks for chunk_id in [meta["chunk_id"]]}
    ids = sorted(docs)
    rng = random.Random(6)
    live: dict[str, int] = {}
    grown = BM25()
    for chunk_id in rng.sample(ids, len(ids)):  # everything, in a shuffled order, removing as it goes
        live[chunk_id] = grown.add(docs[chunk_id], key=chunk_id)
        if rng.random() < 0.3:
            gone = rng.choice(sorted(live))
            grown.remove(live.pop(gone), docs[gone])
    assert grown.size == len(live) < len(ids) and len(grown.lengths) < len(ids)  # freed slots were reused

    fresh = BM25()
    for chunk_id in sorted(live):
        fresh.add(docs[chunk_id], key=chunk_id)
    assert (grown.size, grown.total_length, grown.avg_length) == (fresh.size, fresh.total_length, fresh.avg_length)
    by_key = lambda bm25: {t: {bm25.keys[s]: tf for s, tf in d.items()} for t, d in bm25.postings.items()}  # noqa: E731
    assert by_key(grown) == by_key(fresh)
    for question in QUESTIONS:
        assert ranked(grown, question) == ranked(fresh, question), question
        first = sorted(live)[: len(live) // 3]
        assert ranked(grown, question, allowed={live[c] for c in first}) == ranked(
            fresh, question, allowed={fresh.keys.index(c) for c in first}
        ), question


def test_bm25_ties_rank_by_key_whatever_the_order_added(sample_chunks):
    meta, text = sample_chunks[10]
    tokens = _tokens(meta, text)
    bm25 = BM25()
    for key in ("c", "a", "b"):  # the same passage three times: equal scores
        bm25.add(tokens, key=key)
    bm25.add(_tokens(*sample_chunks[200]), key="0")
    top = bm25.top(tokens[:5], 3)
    assert [bm25.keys[slot] for slot, _ in top] == ["a", "b", "c"]
    assert len({score for _, score in top}) == 1
    assert bm25.top(tokens[:5], 0) == []


def test_bm25_remove_refuses_tokens_it_was_not_given(sample_chunks):
    bm25 = BM25([_tokens(m, t) for m, t in sample_chunks[:5]])
    with pytest.raises(ValueError):
        bm25.remove(0, _tokens(*sample_chunks[1]))
    bm25.remove(0, _tokens(*sample_chunks[0]))
    with pytest.raises(ValueError):
        bm25.remove(0, _tokens(*sample_chunks[0]))  # already gone
    assert bm25.size == 4


def test_keyword_index_updated_in_place_matches_a_fresh_build(store, embedder, parser, tmp_path):
    """The five sample reports, then: one replaced (new text), one removed, one added (a copy of
    another under an id that sorts first, so its chunks tie with the original's)."""
    for name in ALL:
        put(store, parser(Path(SAMPLE_REPORTS_DIR) / name), embedder.dimension)
    # Keyword ranks only: put() gives every chunk and unit the same vector, so a dense or unit
    # search would rank ties in whatever order Chroma's graph returns them.
    reader = HybridRetriever(store=store, embedder=embedder, k=12, dense_weight=0, units_weight=0)
    index = reader.keyword_index()
    slots_before = len(index.bm25.lengths)

    changed = tmp_path / SWINDON
    changed.write_text(sample_text(SWINDON).replace("inspectors", "examiners"), encoding="utf-8")
    replaced = parser(changed)
    copy = tmp_path / f"0-copy-{NORTH_SOMERSET}"
    copy.write_text(sample_text(NORTH_SOMERSET) + "\n", encoding="utf-8")
    added = parser(copy)
    put(store, replaced, embedder.dimension)
    assert store.remove_report(SOUTHWARK[:-4])
    put(store, added, embedder.dimension)

    assert reader.keyword_index() is index  # updated, not rebuilt
    assert index.generation == store.generation()
    assert index.versions[replaced.meta.report_id] == replaced.meta.content_hash
    assert SOUTHWARK[:-4] not in index.versions and len(index.bm25.lengths) < slots_before + len(added.chunks) + len(
        replaced.chunks
    )  # the removed and replaced reports' slots were reused

    fresh_reader = HybridRetriever(store=store, embedder=embedder, k=12, dense_weight=0, units_weight=0)
    fresh = fresh_reader.keyword_index()
    assert fresh is not index and index.versions == fresh.versions

    def chunk_id(ix, slot):
        return ix.chunks[slot][0]["chunk_id"]

    def postings(ix):
        return {t: {chunk_id(ix, s): tf for s, tf in d.items()} for t, d in ix.bm25.postings.items()}

    assert (index.bm25.size, index.bm25.total_length) == (fresh.bm25.size, fresh.bm25.total_length)
    assert postings(index) == postings(fresh)
    assert {rid: [chunk_id(index, s) for s in slots] for rid, slots in index.by_report.items()} == {
        rid: [chunk_id(fresh, s) for s in slots] for rid, slots in fresh.by_report.items()
    }
    ties = 0
    for question in QUESTIONS:
        query = terms(question)
        got = [(chunk_id(index, s), score) for s, score in index.bm25.top(query, 40)]
        assert got == [(chunk_id(fresh, s), score) for s, score in fresh.bm25.top(query, 40)], question
        ties += len(got) - len({score for _, score in got})
        for rid in index.by_report:
            assert [chunk_id(index, s) for s, _ in index.bm25.top(query, 10, set(index.by_report[rid]))] == [
                chunk_id(fresh, s) for s, _ in fresh.bm25.top(query, 10, set(fresh.by_report[rid]))
            ], (question, rid)
        assert reader.invoke(question) == fresh_reader.invoke(question), question
    assert ties > 0, "the copied report should tie with its original"
    assert [d.metadata["report_id"] for d in reader.invoke("examiners")][:1] == [replaced.meta.report_id]
