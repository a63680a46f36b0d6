"""Corpus benchmark: a folder of real reports ingested end to end, against its two limits.

    .venv/bin/python -m bench.bench_corpus [FOLDER] [--limit N] [--torch-threads T]
                                           [--parse-workers N [N ...]] [--code DIR] [--json]

FOLDER defaults to the 160 Ofsted PDFs beside the project (``../shared/ofsted/reports``). For
each ``--parse-workers`` value (0: read and parse in the embedding process, one file after
another, as ingest did before workers), a fresh store is filled by a child process and the
bench prints its wall time (the model's loading apart), chunks and chunks/s, the time it spent
embedding and writing (in its embedding process, the other stages overlapping), its peak memory
(the child and its parse processes together, sampled from /proc; also the embedding process
alone), and the time of a second ingest of the unchanged folder. Then, in this process, the
same files parsed alone (load and parse, one core: the limit on reading) and the raw encode of
the very same chunk texts (``Embedder.embed`` over all of them at once, length-sorted, at the
same torch threads: the limit on embedding), and for each run the ratio of its wall time to
the larger of the two (1.0: as fast as the slower stage allows).

``--code DIR`` runs the ingests with another checkout's code (e.g. the one before workers
came) on PYTHONPATH, to compare at equal settings in one session; ``--parse-workers`` is then
ignored by code that does not know it. The 1-minute load average is printed beside each stage:
on a shared machine it says how much the numbers can be trusted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.threads import HELP, threads_arg, use_torch_threads
from reports_qa.settings import PROJECT_ROOT

DEFAULT_FOLDER = PROJECT_ROOT.parent / "shared" / "ofsted" / "reports"


def _files(folder: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".pdf", ".txt", ".docx",
                                                                                            ".html", ".md"))
    return files[:limit] if limit else files


def _copy(files: list[Path], root: Path, into: Path) -> Path:
    """The first ``--limit`` files in their folders (links out of a folder are refused)."""
    import shutil

    for f in files:
        target = into / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, target)
    return into


# -- memory of a process tree ------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    parents[int(entry.name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _rss_kb(pid: int, key: str = "VmRSS") -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples the summed resident memory of a process and its descendants every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb, self.main_kb, self.workers = pid, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = _tree(self.pid)
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in tree))
            self.main_kb = max(self.main_kb, _rss_kb(self.pid, "VmHWM"))
            self.workers = max(self.workers, len(tree) - 1)
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# -- the child: one ingest, then a second one of the unchanged folder -----------------------------


def child(folder: Path, data_dir: Path) -> None:
    from reports_qa import logs
    from reports_qa.settings import Settings
    from vectorstore.indexer import Indexer

    logs.configure(0)
    t0 = time.perf_counter()
    indexer = Indexer.from_settings(Settings(data_dir=data_dir))
    load_s = time.perf_counter() - t0
    spent = {"embed_s": 0.0, "put_s": 0.0}  # time the ingest spent embedding and writing, in its own process

    def timed(obj: object, name: str, key: str) -> None:
        call = getattr(obj, name)

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        setattr(obj, name, wrapper)

    timed(indexer.embedder, "embed", "embed_s")
    timed(indexer.store, "put_report", "put_s")
    with indexer.store:
        t0 = time.perf_counter()
        results = indexer.ingest_paths([folder])
        ingest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = indexer.ingest_paths([folder])
        reingest_s = time.perf_counter() - t0
    print(json.dumps({
        "load_s": load_s, "ingest_s": ingest_s, "reingest_s": reingest_s, **spent,
        "files": len(results), "ingested": sum(r.status == "ingested" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "chunks": sum(r.chunks for r in results if r.status == "ingested"),
        "embedded_again": sum(r.embedded for r in again),
        "unchanged_again": sum(r.status == "unchanged" for r in again),
    }))


def run_ingest(folder: Path, workers: int, code: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{PROJECT_ROOT}", "REPORTS_QA_PARSE_WORKERS": str(workers)}
        load1 = os.getloadavg()[0]
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(folder), tmp],
                                stdout=subprocess.PIPE, env=env, text=True, cwd=code)
        memory = PeakMemory(proc.pid)
        out, _ = proc.communicate()
        memory.stop()
        if proc.returncode != 0:
            raise SystemExit(f"the ingest child failed ({proc.returncode})")
    row = json.loads(out.strip().splitlines()[-1])
    row.update(parse_workers=workers, code=str(code), peak_rss_mb=memory.peak_kb / 1024,
               main_peak_rss_mb=memory.main_kb / 1024, processes=1 + memory.workers,
               load1=(load1 + os.getloadavg()[0]) / 2)
    row["chunks_per_s"] = row["chunks"] / row["ingest_s"]
    return row


# -- the two limits, in this process -----------------------------------------------------------


def limits(files: list[Path], batch_size: int) -> dict:
    from ingest.loaders import IngestError, load_document
    from reports_qa.settings import Settings
    from vectorstore.embeddings import Embedder
    from vectorstore.indexer import Indexer

    settings = Settings()
    # The runtime the ingests use (REPORTS_QA_EMBEDDING_BACKEND), so the ratio compares like with like.
    embedder = Embedder.from_settings(settings)
    indexer = Indexer(None, embedder, settings)  # type: ignore[arg-type]  # parses only

    texts: list[str] = []
    load1 = os.getloadavg()[0]
    t0 = time.perf_counter()
    for path in files:
        try:
            doc = load_document(path, max_text_chars=settings.max_text_chars)
        except IngestError:
            continue
        texts += indexer.parse(doc).embed_texts()
    parse_s = time.perf_counter() - t0
    parse_load1 = (load1 + os.getloadavg()[0]) / 2
    load1 = os.getloadavg()[0]
    t0 = time.perf_counter()
    embedder.embed(texts, batch_size=batch_size)
    encode_s = time.perf_counter() - t0
    return {"parse_s": parse_s, "parse_load1": parse_load1, "encode_s": encode_s,
            "encode_load1": (load1 + os.getloadavg()[0]) / 2, "texts": len(texts),
            "torch_threads": embedder.threads}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--limit", type=int, help="only the first N files (sorted by path)")
    parser.add_argument("--torch-threads", type=threads_arg, help=HELP)
    parser.add_argument("--parse-workers", type=int, nargs="+", default=[1],
                        help="parse processes for each run (0: parse in the embedding process); default 1")
    parser.add_argument("--code", type=Path, action="append",
                        help="run the ingests with this checkout's code too (repeatable); default this one")
    parser.add_argument("--skip-limits", action="store_true", help="only the ingests")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_torch_threads(args.torch_threads)  # this process and every child
    from reports_qa import logs
    from reports_qa.settings import Settings

    logs.configure(0)
    files = _files(args.folder, args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        folder = _copy(files, args.folder, Path(tmp) / "reports") if args.limit else args.folder
        runs = [run_ingest(folder, w, code.resolve()) for code in (args.code or [PROJECT_ROOT]) for w in args.parse_workers]
    found = limits(files, Settings().embedding_batch_size) if not args.skip_limits else {}
    for r in runs:
        if found:
            r["ratio"] = r["ingest_s"] / max(found["parse_s"], found["encode_s"])
    summary = {"folder": str(args.folder), "files": len(files), "runs": runs, **found}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{len(files)} files from {args.folder}; torch threads {found.get('torch_threads', '?')}")
    print(f"{'code':>24} {'workers':>7} {'load1':>5} {'chunks':>6} {'wall s':>7} {'chunks/s':>8} {'ratio':>6} "
          f"{'embed s':>7} {'write s':>7} {'peak MB':>7} {'main MB':>7} {'re-ingest s':>11} {'failed':>6}")
    for r in runs:
        print(f"{Path(r['code']).name[-24:]:>24} {r['parse_workers']:>7} {r['load1']:>5.1f} {r['chunks']:>6} "
              f"{r['ingest_s']:>7.0f} {r['chunks_per_s']:>8.1f} {r.get('ratio', float('nan')):>6.2f} "
              f"{r['embed_s']:>7.0f} {r['put_s']:>7.0f} "
              f"{r['peak_rss_mb']:>7.0f} {r['main_peak_rss_mb']:>7.0f} {r['reingest_s']:>11.1f} {r['failed']:>6}")
    if found:
        print(f"parse alone: {found['parse_s']:.0f} s (load1 {found['parse_load1']:.1f}); raw encode of the same "
              f"{found['texts']} chunk texts: {found['encode_s']:.0f} s (load1 {found['encode_load1']:.1f})")


if __name__ == "__main__":
    main()
