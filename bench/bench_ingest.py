"""Ingest benchmark: the sample corpus end to end against the model's raw forward pass.

    .venv/bin/python -m bench.bench_ingest [--repeat N] [--batch-size B] [--json]

Prints seconds, chunks and chunks/s for a fresh ingest, the raw ``model.encode`` time of the
very same chunk texts (the physical limit on this machine), their ratio, and the time of a
re-ingest of the unchanged corpus (which should embed nothing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings


def run_once(batch_size: int) -> dict:
    from ingest.loaders import load_document
    from vectorstore.indexer import Indexer

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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)
    rows = []
    for batch in args.batch_size:
        runs = [run_once(batch) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        med["batch_size"] = batch
        med["chunks_per_s"] = med["chunks"] / med["ingest_s"]
        med["raw_chunks_per_s"] = med["chunks"] / med["raw_encode_s"]
        med["efficiency"] = med["raw_encode_s"] / med["ingest_s"]
        rows.append(med)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'batch':>5} {'chunks':>6} {'ingest s':>9} {'chunks/s':>9} {'raw encode s':>13} {'raw/s':>7} "
          f"{'efficiency':>10} {'parse s':>8} {'re-ingest s':>11}")
    for r in rows:
        print(f"{r['batch_size']:>5} {r['chunks']:>6.0f} {r['ingest_s']:>9.1f} {r['chunks_per_s']:>9.1f} "
              f"{r['raw_encode_s']:>13.1f} {r['raw_chunks_per_s']:>7.1f} {r['efficiency']:>10.2f} "
              f"{r['parse_s']:>8.2f} {r['reingest_s']:>11.2f}")


if __name__ == "__main__":
    main()
