"""Ingest benchmark: the sample corpus end to end against the model's raw forward pass.

    .venv/bin/python -m bench.bench_ingest [--repeat N] [--batch-size B [B ...]]
                                           [--torch-threads T [T ...]] [--json]

Prints seconds, chunks and chunks/s for a fresh ingest, the raw ``model.encode`` time of the
very same chunk texts (the physical limit on this machine), their ratio, and the time of a
re-ingest of the unchanged corpus (which should embed nothing). Every batch size and torch
thread count given is run once per repeat, interleaved, so a change in the machine's load
touches all of them alike; each row is the median of its repeats, with the 1-minute load
average seen at its runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.threads import HELP, threads_arg, use_torch_threads
from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings


def run_once(batch_size: int, torch_threads: str | None) -> dict:
    import torch

    from ingest.loaders import load_document
    from vectorstore.indexer import Indexer

    use_torch_threads(torch_threads)  # Indexer.from_settings -> Embedder.load applies it
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), embedding_batch_size=batch_size)
        indexer = Indexer.from_settings(settings)
        with indexer.store:
            t0 = time.perf_counter()
            results = indexer.ingest_paths([SAMPLE_REPORTS_DIR])
            ingest_s = time.perf_counter() - t0
            assert all(r.ok for r in results), results
            t0 = time.perf_counter()
            again = indexer.ingest_paths([SAMPLE_REPORTS_DIR])
            reingest_s = time.perf_counter() - t0
            assert all(r.status == "unchanged" for r in again)

        texts = []
        t0 = time.perf_counter()
        for path in sorted(Path(SAMPLE_REPORTS_DIR).glob("*.txt")):
            texts += [c.embed_text for c in indexer.parse(load_document(path)).chunks]
        parse_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        indexer.embedder.model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
        encode_s = time.perf_counter() - t0
    return {
        "torch_threads": torch.get_num_threads(),
        "load1": os.getloadavg()[0],
        "chunks": len(texts),
        "ingest_s": ingest_s,
        "raw_encode_s": encode_s,
        "parse_s": parse_s,
        "reingest_s": reingest_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32], help="embedding batch sizes to try")
    parser.add_argument("--torch-threads", type=threads_arg, nargs="+", default=[None], help=HELP)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)
    combos = list(itertools.product(args.batch_size, args.torch_threads))
    runs: dict[tuple, list[dict]] = {c: [] for c in combos}
    for _ in range(args.repeat):
        for batch, threads in combos:
            runs[(batch, threads)].append(run_once(batch, threads))
    rows = []
    for (batch, _), done in runs.items():
        med = {k: statistics.median(r[k] for r in done) for k in done[0]}
        med["batch_size"] = batch
        med["chunks_per_s"] = med["chunks"] / med["ingest_s"]
        med["raw_chunks_per_s"] = med["chunks"] / med["raw_encode_s"]
        med["efficiency"] = med["raw_encode_s"] / med["ingest_s"]
        rows.append(med)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'batch':>5} {'threads':>7} {'load1':>5} {'chunks':>6} {'ingest s':>9} {'chunks/s':>9} "
          f"{'raw encode s':>13} {'raw/s':>7} {'efficiency':>10} {'parse s':>8} {'re-ingest s':>11}")
    for r in rows:
        print(f"{r['batch_size']:>5} {r['torch_threads']:>7.0f} {r['load1']:>5.1f} {r['chunks']:>6.0f} "
              f"{r['ingest_s']:>9.1f} {r['chunks_per_s']:>9.1f} {r['raw_encode_s']:>13.1f} "
              f"{r['raw_chunks_per_s']:>7.1f} {r['efficiency']:>10.2f} {r['parse_s']:>8.2f} {r['reingest_s']:>11.2f}")


if __name__ == "__main__":
    main()
