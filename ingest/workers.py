"""Read and parse report files in worker processes, so that parsing overlaps embedding.

pypdf is pure Python and holds the GIL: read in the process that embeds, a PDF's text costs
the model that time (1-3 s a report, measured on the Ofsted corpus). Reading and parsing a file
needs only the tokenizer (chunks are sized in the model's word pieces), never the model, so each
worker process holds just that and the ingest modules; the main process keeps what needs the
store (which report a file is, its id, duplicates) and the model, and takes the parsed reports
in file order from a short queue (:class:`ParsePool`), so memory stays bounded whatever the
number of files.

One bad file never stops the rest: every failure, a crash of the worker process included,
comes back as that file's one-line reason.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest import loaders
from ingest.chunker import TokenCounter
from ingest.councils import lookup
from ingest.loaders import IngestError, load_bytes, load_document
from ingest.metadata import extract_metadata, slugify
from ingest.models import LoadedDocument, ParsedReport
from ingest.parse import parse_document
from reports_qa.memory import release_memory

log = logging.getLogger(__name__)

# A worker is replaced after this many files, so that nothing a PDF library keeps (caches, or
# memory the C allocator holds despite ``release_memory``) can pile up over a long run. Starting
# one costs about a second, against some 80 s of parsing 50 files.
TASKS_PER_WORKER = 50


@dataclass(frozen=True)
class ParseLimits:
    """What every worker needs to read and chunk files as the main process would."""

    max_bytes: int
    max_text_chars: int
    chunk_max_tokens: int
    chunk_overlap_tokens: int
    model_max_tokens: int
    pdf_seconds: float = field(default_factory=lambda: loaders.MAX_PDF_SECONDS)  # as this process has it


@dataclass(frozen=True)
class ParseJob:
    """One file to read (``path``) or one upload (``data``), and the id to parse it under.

    ``report_id`` None: only read it (the main process parses it once it knows the id).
    ``id_taken``: another report holds ``report_id``; parse under it with the report's council
    added (see :func:`council_id`), as the indexer will most likely decide.
    """

    index: int
    name: str
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)
    report_id: str | None = None
    id_taken: bool = False


@dataclass
class ParseOutcome:
    index: int
    doc: LoadedDocument | None = None
    report: ParsedReport | None = None
    error: str | None = None  # the file's one-line reason when it could not be read
    seconds: float = 0.0


def council_id(base: str, council: str | None) -> str | None:
    """The id a second report of a file name gets: the name's id with its council's place
    (Ofsted names its PDFs by date alone, so one name is several councils' reports)."""
    if not council:
        return None
    known = lookup(council)
    return f"{base}-{slugify(known.place if known else council)}"


def parse_file(job: ParseJob, count_tokens: TokenCounter, limits: ParseLimits) -> ParseOutcome:
    """Read (and, if asked, parse) one file; never raises."""
    started = time.perf_counter()

    def outcome(**kw: Any) -> ParseOutcome:
        return ParseOutcome(job.index, seconds=time.perf_counter() - started, **kw)

    try:
        if job.path is not None:
            doc = load_document(Path(job.path), max_bytes=limits.max_bytes, max_text_chars=limits.max_text_chars,
                                data=job.data)
        else:
            doc = load_bytes(job.data or b"", job.name, max_bytes=limits.max_bytes,
                             max_text_chars=limits.max_text_chars)
        if job.report_id is None:
            return outcome(doc=doc)
        report_id, stated = job.report_id, None
        if job.id_taken:
            stated = extract_metadata(doc.text, doc.source, doc.file_type)
            report_id = council_id(job.report_id, stated.council) or report_id
        report = parse_document(
            doc, count_tokens, max_tokens=limits.chunk_max_tokens, model_max_tokens=limits.model_max_tokens,
            overlap_tokens=limits.chunk_overlap_tokens, report_id=report_id, stated=stated,
        )
        return outcome(doc=doc, report=report)
    except IngestError as exc:
        return outcome(error=str(exc))
    except Exception as exc:  # one broken file must not stop the batch
        log.exception("unexpected error reading %s", job.name)
        return outcome(error=f"{job.name}: unexpected error: {type(exc).__name__}: {exc}")


class WordPieces:
    """Counts word pieces with the model's Rust tokenizer, as ``Embedder.count_tokens`` does:
    special tokens included, no truncation, no padding. Picklable, so a worker gets its own."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __call__(self, text: str) -> int:
        return len(self.backend.encode(text, add_special_tokens=True).ids)

    @classmethod
    def of(cls, embedder: Any) -> WordPieces | None:
        """The embedder's tokenizer as a picklable counter, or None where it has no Rust
        tokenizer or counts differently (then files are parsed in the main process)."""
        import copy

        backend = getattr(getattr(embedder, "tokenizer", None), "backend_tokenizer", None)
        if backend is None:
            return None
        backend = copy.deepcopy(backend)
        backend.no_truncation()
        backend.no_padding()
        counter = cls(backend)
        probes = ("Children's services in Bradford are inadequate.", "x " * 600, "£40,000 – naïve café\n\t3.11")
        if any(counter(p) != embedder.count_tokens(p) for p in probes):
            log.warning("the model's tokenizer counts differently outside it; parsing in the main process")
            return None
        return counter


# -- inside a worker process --------------------------------------------------------------------

_worker: tuple[TokenCounter, ParseLimits] | None = None


def child_of(parent: int) -> None:
    """Set up a worker process of the ingest (here, and ``vectorstore.embed_process``)."""
    # Ctrl-C reaches the whole process group: the main process stops the run, not each worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A main process killed outright (SIGKILL) cannot stop its workers: they notice and leave.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _init_worker(count_tokens: TokenCounter, limits: ParseLimits, parent: int) -> None:
    global _worker
    _worker = (count_tokens, limits)
    loaders.MAX_PDF_SECONDS = limits.pdf_seconds
    child_of(parent)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _run_in_worker(job: ParseJob) -> ParseOutcome:
    assert _worker is not None, "worker not initialised"
    try:
        return parse_file(job, *_worker)
    finally:
        release_memory()  # pypdf's peak for this file: see reports_qa.memory


# -- in the main process ------------------------------------------------------------------------


class ParsePool:
    """Parse jobs in ``workers`` processes, results taken back in submission order.

    The caller keeps the queue short (:attr:`ahead` jobs): parsed reports wait here until the
    main process embeds them, so a long queue would only hold memory. ``workers`` 0 runs each
    job in this process when its result is asked for (today's serial ingest). Processes start
    with the first job, so a run that parses nothing (an unchanged corpus) starts none.
    """

    def __init__(self, workers: int, count_tokens: TokenCounter, limits: ParseLimits) -> None:
        self.workers = max(0, workers)
        self.count_tokens, self.limits = count_tokens, limits
        self.ahead = self.workers + 2 if self.workers else 1
        self._executor: ProcessPoolExecutor | None = None
        self._pending: deque[tuple[ParseJob, Future | None]] = deque()

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pending.clear()
        self._shutdown()

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, never fork: the main process runs torch's and Chroma's threads.
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                initargs=(self.count_tokens, self.limits, os.getpid()), max_tasks_per_child=TASKS_PER_WORKER,
            )
        return self._executor

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.ahead

    def submit(self, job: ParseJob) -> None:
        if not self.workers:
            self._pending.append((job, None))
            return
        try:
            future = self._pool().submit(_run_in_worker, replace(job, data=None) if job.path is not None else job)
        except (RuntimeError, OSError) as exc:
            # e.g. a script without ``if __name__ == "__main__":`` cannot spawn processes
            log.warning("cannot start parse processes (%s); parsing in this process", " ".join(str(exc).split()))
            self._shutdown()
            self.workers = 0
            self._pending.append((job, None))
            return
        self._pending.append((job, future))  # the worker reads a file itself: its bytes need not cross the pipe

    def next(self) -> ParseOutcome:
        """The outcome of the oldest job submitted."""
        job, future = self._pending.popleft()
        if future is None:
            return parse_file(job, self.count_tokens, self.limits)
        try:
            return future.result()
        except BrokenProcessPool:
            return self._after_crash(job)

    def _after_crash(self, job: ParseJob) -> ParseOutcome:
        """A worker died (out of memory, a crash in a library): every job in flight is lost.
        This one is tried again alone, so a file that kills its reader fails by itself; the
        others are sent again."""
        log.warning("a parse process stopped unexpectedly; reading %s again", job.name)
        self._shutdown()
        try:
            outcome = self._pool().submit(_run_in_worker, job).result()
        except BrokenProcessPool:
            self._shutdown()
            outcome = ParseOutcome(job.index, error=(
                f"{job.name}: the process reading it stopped unexpectedly (out of memory, or a crash in the "
                "PDF library); it may be damaged, try downloading it again"))
        rest = [j for j, _ in self._pending]
        self._pending.clear()
        for other in rest:
            self.submit(other)
        return outcome


def default_workers(cpus: int | None = None) -> int:
    """Parse processes for ``auto``: one per four cores, one to four. One pypdf process keeps up
    with the model on up to about four threads (1-3 s of parsing a report against 5-8 s of
    embedding on one thread); each process costs 100-200 MB."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(4, round(cpus / 4)))

