"""The keyword index alone, in memory, from thousands to millions of chunks.

    .venv/bin/python -m bench.bench_bm25 [--reports N [N ...]] [--repeat R] [--json]

``bench_growth`` measures BM25 inside the whole system, but filling a Chroma store is what
limits its sizes (about 20 minutes for 2,000 reports). This bench builds only the index, so it
reaches 20,000 reports in minutes: the five sample reports are parsed and tokenised as the
retriever does, then report i is template i % 5 under a new id (the corpus of
``bench_growth``: about 69 chunks a report). For each size it prints:

* the build (``BM25.add`` for every chunk, keyed (report id, position) as the retriever keys
  them) and the growth of this process's VmRSS it caused;
* ``top`` p50/p95 over the 36 questions of ``bench.bench_ask`` (k = 40, as fetch_k), unscoped
  and restricted to one report's chunks;
* one report replaced: its chunks tokenised again and taken out, the new ones tokenised and put
  in, median of ``--repeat``, and the first ``top`` after it (which recomputes the per-slot
  length norms).

Run against an older checkout (``PYTHONPATH=/path/to/old python -m bench.bench_bm25``), a BM25
without ``add`` is measured as it worked then: built with ``BM25(docs)`` and rebuilt over every
chunk when one report changes.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from pathlib import Path
from typing import Any

from eval.metrics import percentile
from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings


def vm_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def templates() -> list[list[tuple[dict, str]]]:
    """The sample reports' chunks as (the metadata the index reads, text)."""
    from ingest.loaders import load_document
    from vectorstore.embeddings import Embedder
    from vectorstore.indexer import Indexer

    settings = Settings()
    indexer = Indexer(None, Embedder.load(settings.embedding_model), settings)  # type: ignore[arg-type]
    out = []
    for path in sorted(Path(SAMPLE_REPORTS_DIR).glob("*.txt")):
        report = indexer.parse(load_document(path))
        paths = {s.id: " › ".join(s.path) for s in report.sections}
        out.append([({"section_path": paths[c.section_id]}, c.text) for c in report.chunks])
    return out


def measure(reports: int, chunks_of: list[list[tuple[dict, str]]], tokens_of: list[list[list[str]]],
            repeat: int) -> dict[str, Any]:
    from assistant.bm25 import BM25
    from assistant.keywords import terms
    from assistant.retriever import _tokens
    from bench.bench_ask import QUESTIONS

    incremental = hasattr(BM25, "add")
    keys = [(f"r{i:05d}", pos) for i in range(reports) for pos in range(len(tokens_of[i % len(tokens_of)]))]
    docs = [tokens_of[i % len(tokens_of)][pos] for i in range(reports) for pos in range(len(tokens_of[i % len(tokens_of)]))]
    gc.collect()
    before = vm_rss_mb()
    t0 = time.perf_counter()
    if incremental:
        bm25 = BM25()
        slots = [bm25.add(tokens, key=key) for tokens, key in zip(docs, keys)]
    else:
        bm25 = BM25(docs)
        slots = list(range(len(docs)))
    build_s = time.perf_counter() - t0
    gc.collect()
    grew = vm_rss_mb() - before

    queries = [terms(q) for q in QUESTIONS]
    one = set(slots[: len(tokens_of[0])])  # the first report's chunks

    def timed(allowed: set[int] | None) -> list[float]:
        out = []
        for query in queries:
            t0 = time.perf_counter()
            bm25.top(query, 40, allowed)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    bm25.top(queries[0], 40)  # warm: the length norms
    top_ms, scoped_ms = timed(None), timed(one)

    # One report replaced (same text, as bench_growth re-puts it): what a reader's refresh costs.
    update_ms, next_top_ms = [], []
    chunks = chunks_of[0]
    mine = slots[: len(chunks)]
    for _ in range(repeat):
        t0 = time.perf_counter()
        if incremental:
            for slot, (meta, text) in zip(mine, chunks):
                bm25.remove(slot, _tokens(meta, text))
            mine = [bm25.add(_tokens(meta, text), key=("r00000", pos)) for pos, (meta, text) in enumerate(chunks)]
        else:
            fresh = [_tokens(meta, text) for meta, text in chunks]
            bm25 = BM25(fresh + docs[len(fresh):])
        update_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        bm25.top(queries[0], 40)
        next_top_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "reports": reports,
        "chunks": len(docs),
        "incremental": incremental,
        "build_s": build_s,
        "index_mb": grew,
        "top_p50_ms": statistics.median(top_ms),
        "top_p95_ms": percentile(top_ms, 0.95),
        "scoped_top_p50_ms": statistics.median(scoped_ms),
        "replace_one_ms": statistics.median(update_ms),
        "next_top_ms": statistics.median(next_top_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, nargs="+", default=[200, 2000, 20000])
    parser.add_argument("--repeat", type=int, default=3, help="replacements to take the median of")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)
    from assistant.retriever import _tokens

    chunks_of = templates()
    tokens_of = [[_tokens(meta, text) for meta, text in chunks] for chunks in chunks_of]
    rows = []
    for n in args.reports:
        rows.append(measure(n, chunks_of, tokens_of, args.repeat))
        gc.collect()
        if not args.json:
            r = rows[-1]
            print(f"{r['reports']} reports: {r['chunks']} chunks, built in {r['build_s']:.1f} s", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    head = ("reports", "chunks", "build s", "index MB", "top p50", "top p95", "1-report p50", "replace ms",
            "next top ms")
    print(" ".join(f"{h:>12}" for h in head))
    for r in rows:
        cells = (f"{r['reports']}", f"{r['chunks']}", f"{r['build_s']:.1f}", f"{r['index_mb']:.0f}",
                 f"{r['top_p50_ms']:.1f}", f"{r['top_p95_ms']:.1f}", f"{r['scoped_top_p50_ms']:.2f}",
                 f"{r['replace_one_ms']:.0f}", f"{r['next_top_ms']:.1f}")
        print(" ".join(f"{c:>12}" for c in cells))
    print("(ms unless named; 'replace' is one report's chunks out and in again, an old BM25 rebuilds everything)")


if __name__ == "__main__":
    main()
