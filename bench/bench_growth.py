"""Growth: how ingest, disk, memory, the keyword index and ask latency grow with the corpus.

    .venv/bin/python -m bench.bench_growth [--reports N [N ...]] [--fresh] [--noise SIGMA]
        [--chroma-url URL [--server-path DIR] | --start-server] [--torch-threads N|auto] [--svg PATH] [--json]

The corpus is synthetic but realistic: the five sample reports are parsed and embedded once
with the real model, then copied into reports of their own (new report id, content hash and
chunk ids; council "Synthetic Council 00137", a meeting and a date in 2008-2024), each copy
with its template's vectors plus Gaussian noise (``--noise``, default 0.01, renormalised) so
the HNSW index is not fed exact duplicates. A size N holds the five real reports (so questions
that name a council still find theirs) plus N-5 copies; copies cycle through the five
templates, about 69 chunks a report on average.

By default one store grows: each size adds the reports the previous one lacked, and "added"
/ "put s" / "chunks/s" are for that increment. ``--fresh`` builds every size in an empty store
instead (a new temp dir, or a new collection prefix on a server). For every size it prints:

* store: reports, chunks, time to put (one ``put_report`` per report, as ingest does), disk
  (allocated bytes of the chroma dir; of ``--server-path`` or the started server's dir in server
  mode, which holds every collection on it), current (VmRSS) and peak (ru_maxrss) RSS of this
  process, and of the server process when ``--start-server`` started it;
* ``list_reports()`` with the store's per-generation cache cleared ("list ms", median of 3),
  a cached call ("cached ms") and ``generation()`` ("gen ms"), the one read every question
  makes to see whether the cache still holds;
* the keyword index a new Assistant builds from scratch ("kw build ms", and its VmRSS growth
  "kw +MB": memory freed by an earlier size can be reused, so read it as a lower bound);
* asks: one warm-up ask, then the 36 questions of ``bench.bench_ask`` through ``Assistant.ask``
  (extractive backend): p50/p95 of retrieve and total ms, answered count, how many
  ``list_reports()`` calls an ask makes and their ms per ask (the JSON also has
  ``generation``, ``_list_reports`` and ``all_chunks``), and the longest answer;
* the parts of retrieval alone, over the same questions (p50): ``embed_query``, the Chroma
  query the dense side makes (``store.query``, k = fetch_k, unscoped) and BM25 ``top``; and
  the 1-minute load average ("load1"): with torch's default of one thread per core ('auto'),
  any other busy process makes ``embed_query`` (so every ask) many times slower; the setting
  REPORTS_QA_TORCH_THREADS (default 1, or ``--torch-threads``) avoids it;
* writes: the ms per report spent in each part of ``put_report`` (chunk upsert, manifest
  upsert, stale-chunk query, generation bump, the rest), then one upload: the first sample
  report put again under a new version, and what the next ``list_reports()``, keyword index
  refresh (only that report is fetched, and its postings taken out and put in again) and ask cost.

``--svg PATH`` writes a self-contained line chart (log-log: chunks against ask total p50/p95,
retrieve p50 and keyword index build ms). ``--json`` prints every row as JSON.

Cost guide (2 cores, embedded): 200 reports (13.7k chunks) take about a minute to put, 2000
(137k chunks) 20-30 minutes, 1.5 GB of disk and 2.5 GB of RSS; 20000 (1.4M chunks) would take
5 hours or more (put_report slowed from ~7 to ~14 ms a chunk between 200 and 2000 reports, most
of it the manifest upsert carrying the full text, since compressed) and about 15 GB of disk.
``bench.bench_bm25`` measures the keyword index alone, in memory, up to 20,000 reports.
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import math
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.threads import HELP, threads_arg, use_torch_threads
from eval.metrics import percentile
from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings

MEETINGS = ("Cabinet", "Executive", "Children's Services Scrutiny Panel", "Corporate Parenting Committee",
            "People Scrutiny Committee", "Full Council")


# -- measuring -----------------------------------------------------------------------------------


def vm_rss_mb(pid: int | str = "self") -> float | None:
    """Resident set size now, in MB (None where /proc does not say)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def disk_mb(path: Path | None) -> float | None:
    """Allocated size of everything under ``path``, as ``du`` counts it."""
    if path is None or not Path(path).exists():
        return None
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total / 1e6


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


class CallTimer:
    """Counts and times calls to one method of one object (an instance attribute shadows it)."""

    def __init__(self, obj: Any, name: str) -> None:
        self.obj, self.name = obj, name
        self.calls, self.ms = 0, 0.0
        original = getattr(obj, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.calls += 1
                self.ms += ms_since(t0)

        setattr(obj, name, timed)

    def reset(self) -> None:
        self.calls, self.ms = 0, 0.0

    def remove(self) -> None:
        delattr(self.obj, self.name)


# -- the synthetic corpus ------------------------------------------------------------------------


def load_templates(indexer: Any, batch_size: int) -> list[tuple[Any, Any]]:
    """The sample reports parsed and embedded once: [(ParsedReport, float32 array n x d)]."""
    import numpy as np

    from ingest.loaders import load_document

    out = []
    for path in sorted(Path(SAMPLE_REPORTS_DIR).glob("*.txt")):
        report = indexer.parse(load_document(path, max_bytes=indexer.max_bytes))
        vectors = indexer.embedder.embed([c.embed_text for c in report.chunks], batch_size=batch_size)
        out.append((report, np.asarray(vectors, dtype=np.float32)))
    return out


def synthetic(i: int, templates: list[tuple[Any, Any]], noise: float, rng: Any) -> tuple[Any, Any]:
    """Report number ``i`` of the corpus: the real samples first (0-4), then relabelled copies."""
    import numpy as np

    from ingest.models import ParsedReport, content_hash

    template, vectors = templates[i % len(templates)]
    if i < len(templates):
        return template, vectors
    rid = f"synthetic-{i:05d}-{template.meta.report_id}"
    version = content_hash(f"{template.meta.content_hash}:{rid}")
    meta = replace(
        template.meta,
        report_id=rid,
        source=f"{rid}.{template.meta.file_type}",
        council=f"Synthetic Council {i:05d}",
        meeting=MEETINGS[i % len(MEETINGS)],
        date=f"{2008 + i % 17}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        content_hash=version,
    )
    chunks = [replace(c, chunk_id=f"{rid}:{version[:12]}:{c.index:04d}", report_id=rid) for c in template.chunks]
    noisy = vectors + rng.normal(0.0, noise, vectors.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return ParsedReport(meta=meta, text=template.text, sections=template.sections, chunks=chunks), noisy


def put_reports(store: Any, start: int, stop: int, templates: list, noise: float, rng: Any,
                progress: Callable[[int], None]) -> tuple[int, float]:
    """Put reports ``start``..``stop-1``; returns (chunks put, seconds spent in put_report)."""
    chunks, seconds = 0, 0.0
    for i in range(start, stop):
        report, vectors = synthetic(i, templates, noise, rng)
        t0 = time.perf_counter()
        store.put_report(report, vectors)
        seconds += time.perf_counter() - t0
        chunks += len(report.chunks)
        progress(1)
    return chunks, seconds


# -- one size ------------------------------------------------------------------------------------


def measure(settings: Settings, store: Any, embedder: Any, templates: list, disk_path: Path | None,
            server_pid: int | None) -> dict:
    """Everything but the put: listing, keyword index, asks, the parts of retrieval, and what
    one changed report then costs the next question."""
    from assistant import Assistant
    from assistant.keywords import terms
    from bench.bench_ask import QUESTIONS

    row: dict[str, Any] = {"chunks": store.chunk_count(), "disk_mb": disk_mb(disk_path)}

    uncached, cached, generation = [], [], []
    for _ in range(3):
        if hasattr(store, "_listing"):
            store._listing = None  # the store caches the listing per generation: time a real listing
        t0 = time.perf_counter()
        reports = store.list_reports()
        uncached.append(ms_since(t0))
        t0 = time.perf_counter()
        store.list_reports()
        cached.append(ms_since(t0))
        if hasattr(store, "generation"):
            t0 = time.perf_counter()
            store.generation()
            generation.append(ms_since(t0))
    row["reports"] = len(reports)
    row["list_reports_ms"] = p50(uncached)
    row["list_reports_cached_ms"] = p50(cached) if hasattr(store, "_listing") else None
    row["generation_ms"] = p50(generation) if generation else None
    del reports

    assistant = Assistant(settings, store, embedder, backend="extractive")
    gc.collect()
    before = vm_rss_mb()
    t0 = time.perf_counter()
    index = assistant.retriever.keyword_index()
    row["keyword_build_ms"] = ms_since(t0)
    gc.collect()
    after = vm_rss_mb()
    row["keyword_rss_mb"] = (after - before) if before is not None and after is not None else None

    t0 = time.perf_counter()
    assistant.ask("warm up: what needs to improve?")
    row["first_ask_ms"] = ms_since(t0)

    timers = [CallTimer(store, name) for name in ("list_reports", "_list_reports", "generation", "all_chunks")
              if hasattr(store, name)]
    asks = []
    try:
        for question in QUESTIONS:
            answer = assistant.ask(question)
            asks.append({**answer.timings_ms, "answered": answer.answered, "chars": len(answer.answer),
                         "question": question})
    finally:
        for timer in timers:
            timer.remove()
    row["calls_per_ask"] = {t.name: {"calls": t.calls / len(QUESTIONS), "ms": t.ms / len(QUESTIONS)} for t in timers}
    listing = row["calls_per_ask"].get("list_reports", {})
    row["list_reports_calls_per_ask"] = listing.get("calls")
    row["list_reports_ms_per_ask"] = listing.get("ms")
    for key in ("retrieve", "total"):
        values = [a[key] for a in asks]
        row[f"{key}_p50_ms"] = p50(values)
        row[f"{key}_p95_ms"] = percentile(values, 0.95)
    row["answered"] = sum(a["answered"] for a in asks)
    row["unanswered"] = [a["question"] for a in asks if not a["answered"]]
    row["asks"] = len(asks)
    longest = max(asks, key=lambda a: a["chars"])
    row["longest_answer_chars"] = longest["chars"]
    row["longest_answer_question"] = longest["question"]

    fetch = max(settings.fetch_k, settings.k)
    embed_ms, chroma_ms, bm25_ms = [], [], []
    for question in QUESTIONS:
        t0 = time.perf_counter()
        vector = embedder.embed_query(question)
        embed_ms.append(ms_since(t0))
        t0 = time.perf_counter()
        store.query(vector, k=fetch)
        chroma_ms.append(ms_since(t0))
        t0 = time.perf_counter()
        index.bm25.top(terms(question), fetch)
        bm25_ms.append(ms_since(t0))
    row["embed_query_p50_ms"] = p50(embed_ms)
    row["chroma_query_p50_ms"] = p50(chroma_ms)
    row["dense_p50_ms"] = p50([a + b for a, b in zip(embed_ms, chroma_ms)])
    row["bm25_top_p50_ms"] = p50(bm25_ms)

    row["load1"] = os.getloadavg()[0]  # other work on the machine inflates the ask figures
    row["rss_mb"] = vm_rss_mb()
    row["peak_rss_mb"] = peak_rss_mb()
    row["server_rss_mb"] = vm_rss_mb(server_pid) if server_pid else None

    # One upload: the first sample report put again under a new version (same text and vectors).
    # The next question refreshes the listing and the keyword index (only that report is
    # fetched, its old postings taken out and the new ones put in).
    from ingest.models import ParsedReport, content_hash

    report, vectors = templates[0]
    version = content_hash(f"{report.text}\n{uuid.uuid4().hex}")
    chunks = [replace(c, chunk_id=f"{c.report_id}:{version[:12]}:{c.index:04d}") for c in report.chunks]
    t0 = time.perf_counter()
    store.put_report(ParsedReport(replace(report.meta, content_hash=version), report.text, report.sections, chunks),
                     vectors)
    row["one_put_ms"] = ms_since(t0)
    t0 = time.perf_counter()
    store.list_reports()
    row["list_after_put_ms"] = ms_since(t0)
    t0 = time.perf_counter()
    assistant.retriever.keyword_index()
    row["keyword_refresh_ms"] = ms_since(t0)
    t0 = time.perf_counter()
    assistant.ask(QUESTIONS[0])
    row["ask_after_put_ms"] = ms_since(t0)
    del index, assistant
    gc.collect()
    return row


# -- the run -------------------------------------------------------------------------------------


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    return Progress(*columns, console=Console(stderr=True), transient=True)


def run(sizes: list[int], *, fresh: bool, noise: float, seed: int, chroma_url: str | None,
        server_path: Path | None, start_server: bool, torch_threads: str | None = None,
        on_row: Callable[[dict], None] | None = None) -> dict:
    import numpy as np
    import torch

    from vectorstore.embeddings import Embedder
    from vectorstore.indexer import Indexer
    from vectorstore.store import ReportStore

    sizes = sorted(set(sizes))
    use_torch_threads(torch_threads)  # Embedder.load below applies it
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-growth-")))
        server_pid = None
        if start_server:
            from tests.chroma_server import ChromaServer

            server = stack.enter_context(ChromaServer(tmp / "server" / "data"))
            chroma_url, server_path, server_pid = server.url, server.path, server.proc.pid
        if chroma_url:
            os.environ["REPORTS_QA_CHROMA_URL"] = chroma_url  # anything reading Settings() agrees
        run_id = uuid.uuid4().hex[:8]

        def settings_for(size: int) -> Settings:
            prefix = f"g{run_id}" + (f"n{size}" if fresh else "")
            return Settings(data_dir=tmp / (f"n{size}" if fresh else "store"), chroma_url=chroma_url,
                            collection=prefix, backend="extractive")

        base = settings_for(sizes[0])
        embedder = Embedder.load(base.embedding_model)
        t0 = time.perf_counter()
        templates = load_templates(Indexer(None, embedder, base), base.embedding_batch_size)  # type: ignore[arg-type]
        prepare_s = time.perf_counter() - t0
        if max(sizes) < len(templates):
            raise SystemExit(f"--reports must be at least {len(templates)} (the sample reports come first)")

        store = None
        have = 0
        for size in sizes:
            size = max(size, len(templates))
            if size <= have and not fresh:
                continue
            settings = settings_for(size)
            if store is None or fresh:
                if store is not None:
                    store.close()
                    if chroma_url:
                        ReportStore.drop(settings_for(have))
                store = ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension)
                have = 0
            parts = [CallTimer(store._chunks, "upsert"), CallTimer(store._reports, "upsert"),
                     CallTimer(store, "_chunk_ids")]
            if hasattr(store, "_state"):
                parts.append(CallTimer(store._state, "upsert"))
            try:
                with _progress() as bar:
                    task = bar.add_task(f"putting reports {have + 1}-{size}", total=size - have)
                    added_chunks, put_s = put_reports(store, have, size, templates, noise, rng,
                                                      lambda n: bar.advance(task, n))
            finally:
                for part in parts:
                    part.remove()
            added = size - have
            have = size
            disk_path = server_path if chroma_url else settings.chroma_path
            row = {"added": added, "added_chunks": added_chunks, "put_s": put_s,
                   "chunks_per_s": added_chunks / put_s if put_s else None}
            names = ("chunks_upsert", "manifest_upsert", "stale_query", "generation_bump")
            row["put_ms_per_report"] = {name: part.ms / added for name, part in zip(names, parts)}
            row["put_ms_per_report"]["other"] = put_s * 1000 / added - sum(row["put_ms_per_report"].values())
            row.update(measure(settings, store, embedder, templates, disk_path, server_pid))
            rows.append(row)
            if on_row:
                on_row(row)
            if fresh and not chroma_url:
                store.close()
                store = None
                shutil.rmtree(settings.data_dir, ignore_errors=True)
        if store is not None:
            store.close()
            if chroma_url:
                ReportStore.drop(settings_for(have))
    return {
        "mode": "fresh" if fresh else "grow",
        "store": "server" if chroma_url else "embedded",
        "chroma_url": chroma_url,
        "noise": noise,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "templates": [{"report_id": r.meta.report_id, "chunks": len(r.chunks)} for r, _ in templates],
        "prepare_s": prepare_s,
        "rows": rows,
    }


# -- output --------------------------------------------------------------------------------------


def _f(value: Any, spec: str = ".0f") -> str:
    return "–" if value is None else format(value, spec)


STORE_COLUMNS = (
    ("reports", "reports", "d"), ("chunks", "chunks", "d"), ("added", "added", "d"), ("put s", "put_s", ".1f"),
    ("chunks/s", "chunks_per_s", ".0f"), ("disk MB", "disk_mb", ".1f"), ("RSS MB", "rss_mb", ".0f"),
    ("peak MB", "peak_rss_mb", ".0f"), ("server MB", "server_rss_mb", ".0f"),
    ("list ms", "list_reports_ms", ".1f"), ("cached ms", "list_reports_cached_ms", ".1f"),
    ("gen ms", "generation_ms", ".1f"), ("kw build ms", "keyword_build_ms", ".0f"),
    ("kw +MB", "keyword_rss_mb", ".0f"),
)
QUERY_COLUMNS = (
    ("chunks", "chunks", "d"), ("load1", "load1", ".1f"), ("retr p50", "retrieve_p50_ms", ".0f"), ("retr p95", "retrieve_p95_ms", ".0f"),
    ("total p50", "total_p50_ms", ".0f"), ("total p95", "total_p95_ms", ".0f"), ("answered", "answered", "d"),
    ("list/ask", "list_reports_calls_per_ask", ".1f"), ("list ms/ask", "list_reports_ms_per_ask", ".0f"),
    ("embed p50", "embed_query_p50_ms", ".1f"), ("chroma p50", "chroma_query_p50_ms", ".1f"),
    ("dense p50", "dense_p50_ms", ".1f"), ("bm25 p50", "bm25_top_p50_ms", ".1f"),
    ("longest ans", "longest_answer_chars", "d"),
)
UPDATE_COLUMNS = (
    ("chunks", "chunks", "d"), ("chunks up", "put_chunks_upsert", ".0f"), ("manifest up", "put_manifest_upsert", ".0f"),
    ("stale q", "put_stale_query", ".0f"), ("gen bump", "put_generation_bump", ".0f"), ("other", "put_other", ".0f"),
    ("1 put ms", "one_put_ms", ".0f"), ("list ms", "list_after_put_ms", ".0f"),
    ("kw refresh ms", "keyword_refresh_ms", ".0f"), ("ask ms", "ask_after_put_ms", ".0f"),
)


def table(rows: list[dict], columns: tuple) -> str:
    widths = [max(len(head), 7) for head, _, _ in columns]
    lines = [" ".join(f"{head:>{w}}" for (head, _, _), w in zip(columns, widths))]
    for r in rows:
        lines.append(" ".join(f"{_f(r.get(key), spec):>{w}}" for (_, key, spec), w in zip(columns, widths)))
    return "\n".join(lines)


SERIES = (
    ("total_p50_ms", "ask total p50", "#1f5f8b", ""),
    ("total_p95_ms", "ask total p95", "#1f5f8b", "6 4"),
    ("retrieve_p50_ms", "retrieve p50", "#4c8c4a", ""),
    ("keyword_build_ms", "keyword index build", "#c8702a", ""),
)


def svg_chart(rows: list[dict], title: str = "reports-qa: cost against corpus size") -> str:
    """Log-log line chart, hand-written SVG (no scripts, nothing fetched), as eval/report.py does."""
    left, right, top, bottom, width, height = 70, 190, 40, 50, 480, 300
    points = [r for r in rows if r.get("chunks")]
    xs = [r["chunks"] for r in points] or [1]
    ys = [r[key] for r in points for key, *_ in SERIES if r.get(key)] or [1.0]
    x_lo, x_hi = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y_lo, y_hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x_hi, y_hi = max(x_hi, x_lo + 1), max(y_hi, y_lo + 1)

    def x(v: float) -> float:
        return left + (math.log10(v) - x_lo) / (x_hi - x_lo) * width

    def y(v: float) -> float:
        return top + height - (math.log10(v) - y_lo) / (y_hi - y_lo) * height

    def label(v: float) -> str:
        return f"{v:,.0f}" if v >= 1 else f"{v:g}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + right}" height="{top + height + bottom}" '
        f'role="img" aria-label="{html.escape(title)}" font-family="sans-serif">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left + width / 2}" y="22" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
    ]
    for decade in range(x_lo, x_hi + 1):
        for m in (1, 2, 5):
            v = m * 10 ** decade
            if not 10 ** x_lo <= v <= 10 ** x_hi:
                continue
            px = x(v)
            parts.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + height}" stroke="#ddd"/>')
            if m == 1:
                parts.append(f'<text x="{px:.1f}" y="{top + height + 16}" text-anchor="middle" font-size="11">{label(v)}</text>')
    for decade in range(y_lo, y_hi + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** decade
            if not 10.0 ** y_lo <= v <= 10.0 ** y_hi:
                continue
            py = y(v)
            parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{left + width}" y2="{py:.1f}" stroke="#ddd"/>')
            if m == 1:
                parts.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">{label(v)}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#333"/>')
    parts.append(f'<text x="{left + width / 2}" y="{top + height + 38}" text-anchor="middle" font-size="12">'
                 "chunks in the store (log scale)</text>")
    parts.append(f'<text x="18" y="{top + height / 2}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 18 {top + height / 2})">milliseconds (log scale)</text>')
    for i, (key, name, colour, dash) in enumerate(SERIES):
        pts = [(x(r["chunks"]), y(r[key])) for r in points if r.get(key)]
        style = f' stroke-dasharray="{dash}"' if dash else ""
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{style}/>')
        for px, py in pts:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + i * 20
        lx = left + width + 14
        parts.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{colour}" stroke-width="2"{style}/>')
        parts.append(f'<text x="{lx + 30}" y="{ly + 4}" font-size="12">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, nargs="+", default=[200, 2000],
                        help="corpus sizes in reports, the 5 real ones included (default: 200 2000)")
    parser.add_argument("--fresh", action="store_true", help="build every size in an empty store (default: grow one)")
    parser.add_argument("--noise", type=float, default=0.01, help="std of the noise added to copied vectors")
    parser.add_argument("--seed", type=int, default=0)
    server = parser.add_mutually_exclusive_group()
    server.add_argument("--chroma-url", help="a running Chroma server (collections g<random>... are dropped after)")
    server.add_argument("--start-server", action="store_true", help="start `chroma run` in a temp dir for the run")
    parser.add_argument("--server-path", type=Path, help="the --chroma-url server's --path, for its size on disk")
    parser.add_argument("--torch-threads", type=threads_arg, help=HELP)
    parser.add_argument("--svg", type=Path, help="write a line chart here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)

    def show(row: dict) -> None:
        if not args.json:
            print(f"size {row['reports']}: put {row['added']} reports in {row['put_s']:.1f} s, "
                  f"ask total p50 {row['total_p50_ms']:.0f} ms", flush=True)

    result = run(args.reports, fresh=args.fresh, noise=args.noise, seed=args.seed, chroma_url=args.chroma_url,
                 server_path=args.server_path, start_server=args.start_server, torch_threads=args.torch_threads,
                 on_row=show)
    if args.svg:
        args.svg.write_text(svg_chart(result["rows"]), encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rows = result["rows"]
    print(f"\n{result['store']} store, {result['mode']} mode; templates embedded in {result['prepare_s']:.1f} s; "
          f"noise {result['noise']}; "
          f"{result['cpus']} CPUs, torch threads {result['torch_threads']}")
    print("store, memory and index (put s / chunks/s are for the reports added at this size)")
    print(table(rows, STORE_COLUMNS))
    print(f"\nasks over {rows[0]['asks'] if rows else 0} questions (ms; list/ask = list_reports() calls per ask)")
    print(table(rows, QUERY_COLUMNS))
    print("\nwrites: ms per report put, by part (averaged over the reports added at this size); then one report "
          "put again\n(new version) and what the next list_reports(), keyword_index() and ask cost")
    print(table([{**r, **{f"put_{k}": v for k, v in r["put_ms_per_report"].items()}} for r in rows], UPDATE_COLUMNS))
    for r in rows:
        if r["unanswered"]:
            print(f"{r['reports']} reports: not answered: {'; '.join(r['unanswered'])}")
    for r in rows:
        print(f"{r['reports']} reports: longest answer {r['longest_answer_chars']} chars "
              f"({r['longest_answer_question']}); first ask {r['first_ask_ms']:.0f} ms")
    if args.svg:
        print(f"chart: {args.svg}")


if __name__ == "__main__":
    main()
