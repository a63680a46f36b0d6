"""Ingest benchmark: a corpus end to end, split into reading, parsing, embedding and storing.

    .venv/bin/python -m bench.bench_ingest [--corpus DIR ...] [--limit N] [--runtimes R ...]
                                           [--repeat N] [--batch-size B [B ...]]
                                           [--torch-threads T [T ...]] [--keep DIR] [--json]

Ingests the corpus (default: the sample reports) into a fresh temporary store and prints the wall
time, chunks and chunks/s; inside it, the time reading and parsing files (from a file's start to
its chunks being planned), the time in ``Embedder.embed`` (the raw encode of exactly what ingest
embeds: chunks and units) and the rest (mostly the store's writes); then the ratio of wall time
to the larger of parse and encode, which a pipeline that parses while it embeds would bring to
1; and the time of a re-ingest of the unchanged corpus (which embeds nothing). Every
combination of runtime, batch size and thread count is run once per repeat, interleaved, so a
change in the machine's load touches all alike; each row is the median of its repeats.
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


def files_of(corpus: list[Path], limit: int | None) -> list[Path]:
    from ingest.loaders import iter_report_files

    files = [path for path, error in iter_report_files(corpus) if error is None]
    if limit and limit < len(files):  # every k-th file: a spread of councils and years
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return files


def run_once(files: list[Path], runtime: str, batch_size: int, torch_threads: str | None,
             keep: Path | None = None) -> dict:
    from vectorstore.indexer import Indexer, IngestProgress
    from vectorstore.store import ReportStore

    use_torch_threads(torch_threads)  # Indexer.from_settings -> Embedder.load applies it
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=keep / runtime if keep else Path(tmp), embedding_batch_size=batch_size,
                            embedding_backend=runtime)
        ReportStore.drop(settings)  # a fresh store each run, kept afterwards under --keep
        indexer = Indexer.from_settings(settings)
        embedder = indexer.embedder
        clock = {"parse": 0.0, "encode": 0.0, "texts": 0, "mark": 0.0}
        real_embed = embedder.embed

        def timed_embed(texts, **kw):
            started = time.perf_counter()
            try:
                return real_embed(texts, **kw)
            finally:
                clock["encode"] += time.perf_counter() - started
                clock["texts"] += len(texts)

        class Clock(IngestProgress):
            def file_started(self, source: str, index: int, total: int) -> None:
                clock["mark"] = time.perf_counter()

            def chunks_planned(self, source: str, n: int) -> None:
                clock["parse"] += time.perf_counter() - clock["mark"]

        embedder.embed = timed_embed  # this instance only: the cached embedder is shared
        try:
            with indexer.store:
                t0 = time.perf_counter()
                results = indexer.ingest_paths(files, Clock())
                ingest_s = time.perf_counter() - t0
                failed = [r.source for r in results if not r.ok]  # e.g. a saved web page named .pdf
                t0 = time.perf_counter()
                again = indexer.ingest_paths(files)
                reingest_s = time.perf_counter() - t0
                assert all((r.status == "unchanged" and r.embedded == 0) or not r.ok for r in again)
        finally:
            del embedder.embed
    chunks = sum(r.chunks for r in results)
    return {
        "runtime": embedder.runtime, "threads": embedder.threads, "device": embedder.device,
        "load1": os.getloadavg()[0], "files": len(files), "failed": failed, "chunks": chunks, "texts": clock["texts"],
        "ingest_s": ingest_s, "parse_s": clock["parse"], "encode_s": clock["encode"],
        "store_s": ingest_s - clock["parse"] - clock["encode"], "reingest_s": reingest_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[SAMPLE_REPORTS_DIR], help="folders or files")
    parser.add_argument("--limit", type=int, help="at most N files, spread over the corpus")
    parser.add_argument("--runtimes", nargs="+", default=["torch"], help="embedding runtimes to compare")
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32], help="embedding batch sizes to try")
    parser.add_argument("--torch-threads", type=threads_arg, nargs="+", default=[None], help=HELP)
    parser.add_argument("--keep", type=Path, help="build each runtime's store in KEEP/<runtime> and keep it "
                        "(for bench_ask --data-dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)
    files = files_of(args.corpus, args.limit)
    combos = list(itertools.product(args.runtimes, args.batch_size, args.torch_threads))
    runs: dict[tuple, list[dict]] = {c: [] for c in combos}
    for _ in range(args.repeat):
        for runtime, batch, threads in combos:
            runs[(runtime, batch, threads)].append(run_once(files, runtime, batch, threads, args.keep))
    rows = []
    for (runtime, batch, _), done in runs.items():
        med = {k: statistics.median(r[k] for r in done) if isinstance(done[0][k], (int, float)) else done[0][k]
               for k in done[0]}
        med["batch_size"] = batch
        med["chunks_per_s"] = med["chunks"] / med["ingest_s"]
        med["vs_bound"] = med["ingest_s"] / max(med["parse_s"], med["encode_s"])
        rows.append(med)
    base = next((r for r in rows if r["runtime"] == "torch"), None)
    for r in rows:
        r["vs_torch"] = r["chunks_per_s"] / base["chunks_per_s"] if base and r["threads"] == base["threads"] else None
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{len(files)} files")
    print(f"{'runtime':>10} {'batch':>5} {'threads':>7} {'load1':>5} {'chunks':>6} {'texts':>6} {'ingest s':>9} "
          f"{'chunks/s':>9} {'x torch':>7} {'parse s':>8} {'encode s':>9} {'store s':>8} {'wall/max':>8} {'re-ingest s':>11}")
    for r in rows:
        ratio = f"{r['vs_torch']:.2f}" if r["vs_torch"] else "-"
        print(f"{r['runtime']:>10} {r['batch_size']:>5} {r['threads']:>7} {r['load1']:>5.1f} {r['chunks']:>6.0f} "
              f"{r['texts']:>6.0f} {r['ingest_s']:>9.1f} {r['chunks_per_s']:>9.1f} {ratio:>7} {r['parse_s']:>8.1f} "
              f"{r['encode_s']:>9.1f} {r['store_s']:>8.1f} {r['vs_bound']:>8.2f} {r['reingest_s']:>11.2f}")


if __name__ == "__main__":
    main()
