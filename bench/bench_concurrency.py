"""Concurrency: several askers at once against one store, as threads or as processes.

    .venv/bin/python -m bench.bench_concurrency [--mode threads|processes] [--askers 8] [--rounds 2]
        [--data-dir DIR] [--chroma-url URL [--collection NAME] | --start-server] [--torch-threads N|auto]
        [--writer SECONDS] [--seed S] [--json]

Ingests the sample reports into a temporary store (unless --data-dir names one that holds
reports; with a server, into a collection of its own that is dropped afterwards, unless
--collection names one that already holds reports), then runs two phases in the same
invocation: a baseline of one asker, and ``--askers`` askers at once. Every asker asks the 36
questions of ``bench.bench_ask`` in its own shuffled order, ``--rounds`` times, all askers
starting together at a barrier after a warm-up ask.

``--mode threads`` (default): one shared ``Assistant`` and one thread per asker, as the
Streamlit app shares one Assistant (``st.cache_resource``) across every session.
``--mode processes``: one process per asker (multiprocessing, spawn), each building its own
Assistant from Settings over the same store: the same data dir for the embedded store (several
``PersistentClient`` readers of one directory), or the same server with --chroma-url /
--start-server. Several embedded readers of one directory worked in our runs (8 processes,
no errors, the same answers as one); Chroma does not support writing to one directory from
several processes, so anything that also ingests should use a server. Start-up (model load,
keyword index) happens before the barrier and is reported apart. Each process's torch uses
REPORTS_QA_TORCH_THREADS threads (default 1; ``--torch-threads`` sets it for the run, in threads
mode too); with 'auto' (torch's default, one per core) N processes oversubscribe the CPU N times.

For each phase it prints asks, wall seconds (first start to last finish), throughput (asks/s),
per-ask latency p50/p95/max (measured around ``ask``), questions answered, answers that differ
from the baseline's answer to the same question (the extractive backend is deterministic, so
any difference means askers disturbed each other), and exceptions raised in askers (count,
kinds, and the first traceback in full).

``--writer SECONDS`` (threads mode) adds a third phase: the same askers while a writer thread
re-puts one report (same text, new version) every SECONDS through the shared store, so asks
refresh the listing and keyword index concurrently. An ask that overlaps a write may then
give a slightly different answer (while a report is replaced, the dense top-k holds both
versions' chunks and the stale ones are dropped; re-puts between asks change no answer), so
read that phase's errors first and its mismatches as a measure of that window.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import queue
import random
import statistics
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.threads import HELP, threads_arg, use_torch_threads
from eval.metrics import percentile
from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings

WARM_UP = "warm up: what needs to improve?"
BARRIER_TIMEOUT_S = 900.0


def ask_all(assistant: Any, questions: list[str], rounds: int, rng: random.Random) -> list[dict]:
    """Every question ``rounds`` times in shuffled order; an exception is a record, not the end."""
    records = []
    for _ in range(rounds):
        order = list(questions)
        rng.shuffle(order)
        for question in order:
            t0 = time.perf_counter()
            try:
                answer = assistant.ask(question)
            except Exception as exc:
                records.append({
                    "question": question,
                    "ms": (time.perf_counter() - t0) * 1000,
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                })
                continue
            records.append({
                "question": question,
                "ms": (time.perf_counter() - t0) * 1000,
                "total_ms": answer.timings_ms.get("total"),
                "retrieve_ms": answer.timings_ms.get("retrieve"),
                "answered": answer.answered,
                "answer": answer.answer,
            })
    return records


# -- threads -------------------------------------------------------------------------------------


class Writer:
    """Re-puts one report under a new version every ``interval`` s while askers ask (``--writer``).

    The text stays the same, so answers should not change; every write bumps the store's
    generation, so every ask after it refreshes the listing and the keyword index while other
    threads use them: the path an upload in the app takes while others are asking.
    """

    def __init__(self, store: Any, report: Any, vectors: list, interval: float) -> None:
        self.store, self.report, self.vectors, self.interval = store, report, vectors, interval
        self.stop = threading.Event()
        self.writes, self.errors, self.first_error = 0, 0, None
        self.thread = threading.Thread(target=self._loop, name="writer", daemon=True)

    def _loop(self) -> None:
        from dataclasses import replace

        from ingest.models import ParsedReport, content_hash

        while not self.stop.wait(self.interval):
            meta = self.report.meta
            version = content_hash(f"{self.report.text}\n{uuid.uuid4().hex}")
            chunks = [replace(c, chunk_id=f"{meta.report_id}:{version[:12]}:{c.index:04d}") for c in self.report.chunks]
            report = ParsedReport(replace(meta, content_hash=version), self.report.text, self.report.sections, chunks)
            try:
                self.store.put_report(report, self.vectors)
                self.writes += 1
            except Exception:
                self.errors += 1
                self.first_error = self.first_error or traceback.format_exc()

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def run_threads(assistant: Any, askers: int, rounds: int, seed: int, questions: list[str],
                writer: Writer | None = None) -> dict:
    barrier = threading.Barrier(askers + 1)
    results: dict[int, dict] = {}

    def asker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        try:
            barrier.wait(BARRIER_TIMEOUT_S)
            start = time.time()
            records = ask_all(assistant, questions, rounds, rng)
            results[i] = {"records": records, "start": start, "end": time.time()}
        except Exception as exc:  # outside ask itself: the barrier, or a bug here
            results[i] = {"records": [], "setup_error": f"{type(exc).__name__}: {exc}",
                          "setup_traceback": traceback.format_exc()}

    threads = [threading.Thread(target=asker, args=(i,), name=f"asker-{i}", daemon=True) for i in range(askers)]
    for t in threads:
        t.start()
    with writer or contextlib.nullcontext():
        barrier.wait(BARRIER_TIMEOUT_S)
        for t in threads:
            t.join()
    phase = {"askers": askers, "workers": [results.get(i, {"records": [], "setup_error": "no result"}) for i in range(askers)]}
    if writer is not None:
        phase["writer"] = {"writes": writer.writes, "errors": writer.errors, "first_error": writer.first_error}
    return phase


# -- processes -----------------------------------------------------------------------------------


def process_asker(i: int, settings_kwargs: dict, rounds: int, seed: int, questions: list[str],
                  barrier: Any, out: Any, torch_threads: str | None = None) -> None:
    """One asker in a process of its own: its own model, store client and Assistant."""
    logs.configure(0)
    use_torch_threads(torch_threads)  # Assistant.from_settings -> Embedder.load applies it
    result: dict[str, Any] = {"index": i, "pid": os.getpid(), "records": []}
    assistant = None
    t0 = time.perf_counter()
    try:
        from assistant import Assistant

        assistant = Assistant.from_settings(Settings(**settings_kwargs), backend="extractive")
        assistant.ask(WARM_UP)
    except Exception as exc:
        result["setup_error"] = f"{type(exc).__name__}: {exc}"
        result["setup_traceback"] = traceback.format_exc()
        assistant = None
    result["startup_s"] = time.perf_counter() - t0
    try:
        barrier.wait(BARRIER_TIMEOUT_S)  # always, so a failed start-up cannot hang the others
    except Exception as exc:
        result.setdefault("setup_error", f"barrier: {type(exc).__name__}: {exc}")
    result["start"] = time.time()
    if assistant is not None:
        result["records"] = ask_all(assistant, questions, rounds, random.Random(seed * 1000 + i))
        assistant.close()
    result["end"] = time.time()
    result["rss_mb"] = _vm_rss_mb()
    out.put(result)


def run_processes(settings_kwargs: dict, askers: int, rounds: int, seed: int, questions: list[str],
                  torch_threads: str | None = None) -> dict:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(askers + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=process_asker, args=(i, settings_kwargs, rounds, seed, questions, barrier, out, torch_threads),
                         name=f"asker-{i}") for i in range(askers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
    except Exception as exc:  # a worker died before the barrier
        barrier.abort()
        print(f"barrier broken: {type(exc).__name__}: {exc}", flush=True)
    startup_s = time.perf_counter() - t0
    results: dict[int, dict] = {}
    while len(results) < askers:
        try:
            r = out.get(timeout=5)
            results[r["index"]] = r
        except queue.Empty:
            if all(not p.is_alive() for p in procs):
                break
    for p in procs:
        p.join(timeout=60)
    workers = []
    for i, p in enumerate(procs):
        workers.append(results.get(i) or {"records": [], "setup_error": f"process exited with {p.exitcode} and no result"})
    return {"askers": askers, "workers": workers, "startup_s": startup_s,
            "startup_s_per_worker": [w.get("startup_s") for w in workers]}


def _vm_rss_mb() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# -- figures -------------------------------------------------------------------------------------


def summarise(phase: dict, reference: dict[str, str] | None) -> dict:
    workers = phase["workers"]
    records = [r for w in workers for r in w["records"]]
    ok = [r for r in records if "error" not in r]
    errors = [r for r in records if "error" in r]
    setup = [w for w in workers if w.get("setup_error")]
    starts = [w["start"] for w in workers if "start" in w]
    ends = [w["end"] for w in workers if "end" in w]
    wall = (max(ends) - min(starts)) if starts and ends else 0.0
    latencies = [r["ms"] for r in ok]
    mismatched = [r for r in ok if reference is not None and r["question"] in reference
                  and r["answer"] != reference[r["question"]]]
    first = errors[0]["traceback"] if errors else (setup[0].get("setup_traceback") or setup[0]["setup_error"] if setup else None)
    return {
        "askers": phase["askers"],
        "asks": len(records),
        "ok": len(ok),
        "errors": len(errors),
        "error_kinds": dict(Counter(r["error"].split(":")[0] for r in errors)),
        "setup_errors": len(setup),
        "first_error": errors[0]["error"] if errors else (setup[0]["setup_error"] if setup else None),
        "first_traceback": first,
        "wall_s": wall,
        "asks_per_s": len(ok) / wall if wall else None,
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p95_ms": percentile(latencies, 0.95) if latencies else None,
        "max_ms": max(latencies) if latencies else None,
        "answered": sum(r["answered"] for r in ok),
        "mismatched": len(mismatched),
        "mismatched_questions": sorted({r["question"] for r in mismatched})[:10],
        "startup_s": phase.get("startup_s"),
        "worker_rss_mb": [w.get("rss_mb") for w in workers if w.get("rss_mb")] or None,
        "writer": phase.get("writer"),
    }


def reference_answers(phase: dict) -> dict[str, str]:
    """The baseline's answer to each question (the first one, if it was asked several times)."""
    out: dict[str, str] = {}
    for w in phase["workers"]:
        for r in w["records"]:
            if "error" not in r:
                out.setdefault(r["question"], r["answer"])
    return out


def baseline_consistency(phase: dict) -> int:
    """Questions the single asker answered differently on different rounds (should be 0)."""
    seen: dict[str, set[str]] = {}
    for w in phase["workers"]:
        for r in w["records"]:
            if "error" not in r:
                seen.setdefault(r["question"], set()).add(r["answer"])
    return sum(len(v) > 1 for v in seen.values())


# -- the run -------------------------------------------------------------------------------------


def run(mode: str, askers: int, rounds: int, seed: int, data_dir: Path | None, chroma_url: str | None,
        collection: str | None, start_server: bool, torch_threads: str | None = None,
        writer_interval: float | None = None) -> dict:
    from bench.bench_ask import QUESTIONS
    from vectorstore.indexer import Indexer
    from vectorstore.store import ReportStore

    questions = list(QUESTIONS)
    use_torch_threads(torch_threads)  # for Indexer.from_settings below, and the askers spawned
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-concurrency-")))
        if start_server:
            from tests.chroma_server import ChromaServer

            chroma_url = stack.enter_context(ChromaServer(tmp / "server" / "data")).url
        if chroma_url:
            os.environ["REPORTS_QA_CHROMA_URL"] = chroma_url  # the spawned askers read it too
        owned_collection = chroma_url is not None and collection is None
        settings_kwargs: dict[str, Any] = {
            "data_dir": str(data_dir or tmp / "data"),
            "chroma_url": chroma_url,
            "backend": "extractive",
        }
        if collection or chroma_url:
            settings_kwargs["collection"] = collection or f"cc{uuid.uuid4().hex[:10]}"
        settings = Settings(**settings_kwargs)
        if owned_collection:
            stack.callback(ReportStore.drop, settings)

        indexer = Indexer.from_settings(settings)
        ingest_s = 0.0
        if not indexer.store.list_reports():
            t0 = time.perf_counter()
            results = indexer.ingest_paths([SAMPLE_REPORTS_DIR])
            ingest_s = time.perf_counter() - t0
            failed = [r for r in results if not r.ok]
            if failed:
                raise SystemExit(f"ingest failed: {failed}")
        reports = len(indexer.store.list_reports())
        chunks = indexer.store.chunk_count()

        phases = []
        extra: dict[str, Any] = {}
        if mode == "threads":
            import torch

            from assistant import Assistant

            extra["torch_threads"] = torch.get_num_threads()
            with indexer.store:
                assistant = Assistant(settings, indexer.store, indexer.embedder, backend="extractive")
                t0 = time.perf_counter()
                assistant.ask(WARM_UP)
                extra["first_ask_ms"] = (time.perf_counter() - t0) * 1000
                for n in sorted({1, askers}):
                    phases.append(run_threads(assistant, n, rounds, seed, questions))
                if writer_interval:
                    from ingest.loaders import load_document

                    path = sorted(Path(SAMPLE_REPORTS_DIR).glob("*.txt"))[-1]
                    report = indexer.parse(load_document(path))
                    vectors = indexer.embedder.embed([c.embed_text for c in report.chunks])
                    writer = Writer(indexer.store, report, vectors, writer_interval)
                    phases.append(run_threads(assistant, askers, rounds, seed, questions, writer))
        else:
            indexer.store.close()  # the askers are the only clients of the store
            for n in sorted({1, askers}):
                phases.append(run_processes(settings_kwargs, n, rounds, seed, questions, torch_threads))
            extra["torch_threads"] = Settings().torch_threads or "auto"

    reference = reference_answers(phases[0])
    rows = [summarise(p, reference) for p in phases]
    return {
        "mode": mode,
        "store": chroma_url or "embedded",
        "reports": reports,
        "chunks": chunks,
        "questions": len(questions),
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "ingest_s": ingest_s,
        "baseline_inconsistent_questions": baseline_consistency(phases[0]),
        **extra,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("threads", "processes"), default="threads")
    parser.add_argument("--askers", type=int, default=8, help="concurrent askers (default 8); 1 is always run first")
    parser.add_argument("--rounds", type=int, default=2, help="times each asker asks every question (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="shuffles the question order of each asker")
    parser.add_argument("--data-dir", type=Path, help="a store that already holds reports (default: a fresh one)")
    server = parser.add_mutually_exclusive_group()
    server.add_argument("--chroma-url", help="a running Chroma server (sets REPORTS_QA_CHROMA_URL)")
    server.add_argument("--start-server", action="store_true", help="start `chroma run` in a temp dir for the run")
    parser.add_argument("--collection", help="collection prefix on the server (default: a new one, dropped after)")
    parser.add_argument("--writer", type=float, metavar="SECONDS",
                        help="threads mode: a third phase with a writer re-putting a report every SECONDS")
    parser.add_argument("--torch-threads", type=threads_arg, help=HELP + "; in each asker process (or the one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.askers < 1 or args.rounds < 1:
        parser.error("--askers and --rounds must be at least 1")
    if args.writer and args.mode != "threads":
        parser.error("--writer needs --mode threads (it writes through the shared store)")
    logs.configure(0)
    result = run(args.mode, args.askers, args.rounds, args.seed, args.data_dir, args.chroma_url, args.collection,
                 args.start_server, args.torch_threads, args.writer)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    extra = f", torch threads {result['torch_threads']}" if "torch_threads" in result else ""
    print(f"mode {result['mode']}, store {result['store']}: {result['reports']} reports, {result['chunks']} chunks; "
          f"{result['questions']} questions x {result['rounds']} rounds per asker; {result['cpus']} CPUs{extra}")
    head = ("askers", "asks", "errors", "wall s", "asks/s", "p50 ms", "p95 ms", "max ms", "answered", "mismatched")
    print(" ".join(f"{h:>10}" for h in head) + ("  start-up s" if result["mode"] == "processes" else ""))

    def f(v: Any, spec: str) -> str:
        return "–" if v is None else format(v, spec)

    for r in result["rows"]:
        cells = (f(r["askers"], "d"), f(r["asks"], "d"), f(r["errors"] + r["setup_errors"], "d"), f(r["wall_s"], ".1f"),
                 f(r["asks_per_s"], ".2f"), f(r["p50_ms"], ".0f"), f(r["p95_ms"], ".0f"), f(r["max_ms"], ".0f"),
                 f(r["answered"], "d"), f(r["mismatched"], "d"))
        line = " ".join(f"{c:>10}" for c in cells)
        if result["mode"] == "processes":
            line += f"  {f(r['startup_s'], '.1f'):>11}"
        print(line)
    plain = [r for r in result["rows"] if not r["writer"]]
    if len(plain) > 1 and plain[0]["asks_per_s"] and plain[-1]["asks_per_s"]:
        base, conc = plain[0], plain[-1]
        print(f"speed-up {conc['asks_per_s'] / base['asks_per_s']:.2f}x in throughput with {conc['askers']} askers; "
              f"p50 latency {conc['p50_ms'] / base['p50_ms']:.1f}x the single asker's")
    if result["baseline_inconsistent_questions"]:
        print(f"note: the single asker itself answered {result['baseline_inconsistent_questions']} question(s) "
              "differently across rounds")
    for r in result["rows"]:
        if r["writer"]:
            w = r["writer"]
            print(f"{r['askers']} askers + writer: {w['writes']} writes during the phase, {w['errors']} failed"
                  + (f"; first:\n{w['first_error']}" if w["first_error"] else ""))
        if r["mismatched"]:
            why = (" (asks that overlap a write: while a report is replaced the dense top-k holds both versions'"
                   " chunks and the old ones are dropped, and the keyword index can be a generation behind;"
                   " the same re-puts done between asks change no answer)" if r["writer"] else "")
            print(f"{r['askers']} askers{' + writer' if r['writer'] else ''}: {r['mismatched']} answers differ "
                  f"from the single asker's{why}, e.g. {r['mismatched_questions'][:3]}")
        if r["errors"] or r["setup_errors"]:
            print(f"\n{r['askers']} askers: {r['errors']} asks raised {r['error_kinds']}, "
                  f"{r['setup_errors']} askers failed to start; first: {r['first_error']}")
            print(r["first_traceback"])


if __name__ == "__main__":
    main()
