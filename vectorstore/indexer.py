"""Ingest files into the store: load, parse, embed, and swap each report in whole.

One bad file never stops a batch: every file gets a result with a one-line reason, and a
report reaches the store only after all of its chunks are embedded, so a failure part-way
leaves the previous version (or nothing) in place, never half a report.

Three things run at once, each on what it alone needs: worker processes (``ingest.workers``)
read and parse the next files; in a long run a child process (``vectorstore.embed_process``)
embeds one report; this process writes the report before it into the store. Decisions that
need the store (which report a file is, its id) are made as a serial run makes them, with
every earlier report written. A text the run embedded already takes that vector, and so does
a text a changed report's stored version holds (``vectorstore.repeats``). A killed run resumes where it stopped, since every report stored
is recognised unchanged by its file's hash and nothing of it is embedded again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePath
from typing import Literal

from ingest.judgements import extract_judgements
from ingest.loaders import (
    IngestError,
    display_name,
    file_digest,
    iter_report_files,
    read_report_file,
    upload_name,
)
from ingest.metadata import METADATA_VERSION, extract_metadata, report_id_for
from ingest.models import LoadedDocument, ParsedReport, ReportMeta, content_hash
from ingest.parse import parse_document, read_meta
from ingest.units import cut_units
from ingest.workers import (
    ParseJob,
    ParseLimits,
    ParseOutcome,
    ParsePool,
    WordPieces,
    council_id,
    default_workers,
)
from reports_qa.memory import release_memory
from reports_qa.settings import Settings
from vectorstore.embed_process import Embedding, EmbeddingProcess
from vectorstore.embeddings import Embedder
from vectorstore.lock import store_lock
from vectorstore.progress import IngestProgress
from vectorstore.repeats import RepeatedTexts, Reuse, text_key
from vectorstore.store import ReportRecord, ReportStore, StoreError, open_store

log = logging.getLogger(__name__)

Status = Literal["ingested", "replaced", "unchanged", "duplicate", "failed", "pruned"]

# Files whose result needs no parsing (unchanged, failed) may be decided this far ahead of the
# one being embedded; each costs a small result, never a report.
_QUICK_AHEAD = 16


@dataclass(frozen=True)
class _Item:
    """One file to ingest: on disk (``path``) or an upload (``data``)."""

    name: str  # as results and citations show it
    path: Path | None = None
    data: bytes | None = None
    error: IngestError | None = None  # why it cannot be read, found while listing its folder


@dataclass(frozen=True)
class IngestResult:
    source: str
    status: Status
    message: str = ""
    report_id: str | None = None
    sections: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks embedded by this run (0 when unchanged or a duplicate)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Put:
    """A report embedded and ready to store, and the result it gets once stored."""

    report: ParsedReport
    vectors: list
    result: IngestResult


@dataclass(frozen=True)
class _Sent:
    """A report's texts sent to the embedding process, less those this run embedded already."""

    job: Embedding
    reuse: Reuse


@dataclass(frozen=True)
class _Waiting:
    """A report embedded and waiting for its write, which comes once the next is sent to embed."""

    item: _Item
    started: float  # when its result's clock started (its reading, in a worker, included)
    put: _Put


class Indexer:
    def __init__(self, store: ReportStore, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._write_failed: str | None = None  # set when the store failed a write during a run
        self._claimed: set[str] = set()  # ids of this run's files, as parse jobs were given them
        self._repeats = RepeatedTexts()  # vectors of the texts this run embedded (repeats take them)
        self._kept: dict[str, frozenset[str]] = {}  # report id -> keys of its stored version's vectors, read ahead

    @classmethod
    def from_settings(cls, settings: Settings) -> Indexer:
        store, embedder = open_store(settings)  # the embedder runs the store's runtime
        return cls(store, embedder, settings)

    @property
    def max_bytes(self) -> int:
        return int(self.settings.max_file_mb * 1024 * 1024)

    def parse(self, doc: LoadedDocument, *, report_id: str | None = None) -> ParsedReport:
        return parse_document(
            doc,
            self.embedder.count_tokens,
            max_tokens=self.settings.chunk_max_tokens,
            model_max_tokens=self.embedder.max_tokens,
            overlap_tokens=self.settings.chunk_overlap_tokens,
            report_id=report_id,
        )

    def ingest_paths(self, paths: Iterable[Path], progress: IngestProgress | None = None, *,
                     prune: bool = False) -> list[IngestResult]:
        """Ingest files and folders; a crash-leftover from an earlier run is cleaned up first.

        Files are read and parsed in worker processes while this one embeds and writes
        (``REPORTS_QA_PARSE_WORKERS``); results come in the order the files were listed.
        ``prune``: first remove the reports whose files under ``paths`` are gone (``prune_reports``).
        Holds the store's write lock throughout: a second writer is refused (StoreBusyError).
        """
        paths = list(paths)
        with store_lock(self.settings, "ingest"):
            orphans = self.store.repair()
            if orphans:
                log.warning("removed %d chunks left behind by an interrupted ingest", orphans)
            pruned = self.prune(paths) if prune else []
            items = [_Item(display_name(path.name), path=path, error=error) for path, error in iter_report_files(paths)]
            return pruned + self._ingest(items, progress or IngestProgress())

    def ingest_bytes(self, data: bytes, filename: str, progress: IngestProgress | None = None) -> IngestResult:
        """Ingest an upload; ``filename`` names the report, its path is never used.

        A stored upload is kept as ``uploads/<report id><type>``: a name we generate, so a
        user's file name can never choose where it is written.
        """
        return self.ingest_uploads([(data, filename)], progress)[0]

    def ingest_uploads(self, files: Sequence[tuple[bytes, str]],
                       progress: IngestProgress | None = None) -> list[IngestResult]:
        """Ingest uploads (bytes, file name) as ``ingest_bytes`` does each, parsing the next
        while one embeds; holds the store's write lock throughout."""
        with store_lock(self.settings, "upload"):
            items = [_Item(upload_name(filename), data=data) for data, filename in files]
            return self._ingest(items, progress or IngestProgress())

    def prune(self, within: Sequence[Path] | None = None) -> list[IngestResult]:
        """Remove the reports whose files are gone (see ``prune_reports``)."""
        return prune_reports(self.store, self.settings, within)

    def _ingest(self, items: list[_Item], progress: IngestProgress) -> list[IngestResult]:
        """Every item's result, in order.

        This process decides what needs the store (is the file unchanged, which report is it,
        what is its id) and writes; the parse pool reads and parses the next files meanwhile.
        In a long run, once the embedding process has loaded, a report is written once the
        next is sent to it to embed, as its worker parsed it; otherwise each is embedded here
        and written before the next. What decides its id is checked once every earlier file
        is written, so ids come out as a serial run gives them; a file parsed under another id
        (rare: a same-named file before it failed) is parsed and embedded again.
        """
        self._write_failed = None
        self._claimed = set()
        self._repeats = RepeatedTexts()
        self._kept = {}
        results: list[IngestResult] = []
        queue: deque[tuple[int, _Item, IngestResult | None]] = deque()
        upcoming = iter(enumerate(items))
        waiting: _Waiting | None = None
        with self._parse_pool(items) as pool, EmbeddingProcess(
                self.settings, self.embedder, self.settings.embedding_batch_size) as child:
            while True:
                while not pool.full and len(queue) <= pool.ahead + _QUICK_AHEAD:
                    i, item = next(upcoming, (None, None))
                    if item is None:
                        break
                    queue.append((i, item, self._prepare(i, item, pool, time.perf_counter())))
                if not queue:
                    if waiting is not None:
                        self._done(waiting.item, self._write(waiting), progress, results)
                    return results
                i, item, result = queue.popleft()
                started = time.perf_counter()
                progress.file_started(item.name, i, len(items))
                outcome, ahead = None, None
                if result is None:  # its parse is the oldest in the pool
                    outcome = pool.next()
                    ahead = self._embed_ahead(item, outcome, waiting, child if pool.workers else None,
                                              len(items) - i, progress, started)
                if waiting is not None:  # written while the child embeds this one
                    self._done(waiting.item, self._write(waiting), progress, results)
                    waiting = None
                if isinstance(ahead, _Sent):
                    ahead = self._repeats.vectors(ahead.reuse, child.result(ahead.job, progress.chunks_embedded))
                if isinstance(ahead, IngestResult):
                    result = ahead
                elif outcome is not None:
                    result = self._finish(item, outcome, progress, started, ahead)
                if isinstance(result, _Put):
                    waiting = _Waiting(item, time.perf_counter() - result.result.seconds, result)
                else:
                    self._done(item, result, progress, results)

    def _done(self, item: _Item, result: IngestResult, progress: IngestProgress, results: list[IngestResult]) -> None:
        if item.data is not None and result.status in ("ingested", "replaced") and result.report_id:
            self._keep_upload(result.report_id, PurePath(item.name).suffix.lower(), item.data)
        progress.file_done(result)
        results.append(result)

    def _write(self, waiting: _Waiting) -> IngestResult:
        """Store a report embedded earlier: its result."""
        if self._write_failed:
            return self._not_tried(waiting.item.name)
        try:
            self.store.put_report(waiting.put.report, waiting.put.vectors)
        except Exception as exc:
            return self._failed(waiting.item.name, waiting.started, exc)
        finally:
            release_memory()  # see reports_qa.memory: without it this process grows with every report
        return replace(waiting.put.result, seconds=round(time.perf_counter() - waiting.started, 3))

    def _embed_ahead(self, item: _Item, outcome: ParseOutcome, waiting: _Waiting | None,
                     child: EmbeddingProcess | None, files_left: int, progress: IngestProgress,
                     started: float) -> _Sent | IngestResult | None:
        """A report as its worker parsed it, sent to the child process to embed before the
        report waiting is written (the failure, where that fails). None where it is embedded
        here, after that write, as in a serial run (``_store``): in a short run, until the
        child has loaded (the first report to embed starts it), where it was not parsed in a
        worker, or where a stored report or the one waiting has its text (it is unchanged, or
        a duplicate: ``_store`` decides, once that one is written)."""
        report = outcome.report
        if child is None or outcome.error is not None or report is None or not report.chunks or self._write_failed:
            return None
        try:
            version = content_hash(outcome.doc.text)
            if waiting is not None and waiting.put.report.meta.content_hash == version:
                return None
            if self.store.find_by_hash(version) is not None:
                return None
            child.start(files_left)
            if not child.ready:
                return None
            existing = self._same_report(outcome.doc, report.meta)
            if existing is not None:
                self._kept[existing.meta.report_id] = self._keep_stored(existing)
            reuse = self._repeats.plan(report.embed_texts())
            job = child.submit(reuse.todo_texts)
            if job is None:
                return None
            progress.chunks_planned(item.name, len(reuse.todo))
            return _Sent(job, reuse)
        except Exception as exc:
            return self._failed(item.name, started - outcome.seconds, exc)

    def _keep_stored(self, existing: ReportRecord) -> frozenset[str]:
        """Let a changed report's texts that its stored version holds word for word take their
        stored vectors (all of one store are of one model and runtime): the keys of those."""
        try:
            stored = self.store.vectors_of(existing.meta.report_id)
        except StoreError as exc:  # then everything is embedded anew
            log.warning("%s", exc)
            return frozenset()
        self._repeats.prime(stored)
        return frozenset(stored)

    def _embed(self, name: str, report: ParsedReport, progress: IngestProgress) -> list:
        reuse = self._repeats.plan(report.embed_texts())  # its chunks, then its sentences and list items
        progress.chunks_planned(name, len(reuse.todo))
        return self._repeats.vectors(reuse, self.embedder.embed(
            reuse.todo_texts, batch_size=self.settings.embedding_batch_size, progress=progress.chunks_embedded))

    def _parse_pool(self, items: list[_Item]) -> ParsePool:
        limits = ParseLimits(max_bytes=self.max_bytes, max_text_chars=self.settings.max_text_chars,
                             chunk_max_tokens=self.settings.chunk_max_tokens,
                             chunk_overlap_tokens=self.settings.chunk_overlap_tokens,
                             model_max_tokens=self.embedder.max_tokens)
        workers = self.settings.parse_workers
        workers = default_workers() if workers is None else workers
        counter = WordPieces.of(self.embedder) if workers and len(items) > 1 else None
        if counter is None:  # one file, or no way to count word pieces outside the model: no workers
            return ParsePool(0, self.embedder.count_tokens, limits)
        return ParsePool(workers, counter, limits)

    def _prepare(self, index: int, item: _Item, pool: ParsePool, started: float) -> IngestResult | None:
        """What can be said of a file without reading its text (it failed, or is unchanged), or
        None once it is sent to be read and parsed."""
        name = item.name
        if item.error is not None:
            return IngestResult(name, "failed", str(item.error))
        if self._write_failed:
            # After a failed write (a full disk), Chroma's next write can hang: write nothing more.
            return self._not_tried(name)
        try:
            data, known = item.data, None
            if item.path is not None:
                known = self.store.find_by_path(str(item.path.resolve()))
                if known is not None:
                    # A stored file is read here to compare its bytes; a new one is read once, by its parser.
                    data = read_report_file(item.path, max_bytes=self.max_bytes)
                    if known.meta.file_hash == file_digest(data):
                        # The same bytes at the same path: nothing to read, parse or embed.
                        return self._result(name, started, "unchanged", self._reread_judgements(known, None),
                                            report_id=known.meta.report_id, sections=known.sections,
                                            chunks=known.chunks)
            report_id, taken = self._likely_id(name, known)
            pool.submit(ParseJob(index, name, path=str(item.path) if item.path is not None else None, data=data,
                                 report_id=report_id if pool.workers else None, id_taken=taken))
            return None
        except Exception as exc:
            return self._failed(name, started, exc)

    def _likely_id(self, name: str, known: ReportRecord | None) -> tuple[str, bool]:
        """The id a worker parses a file under, decided without its text: the stored report of
        its path, else its name's id, which is taken (``True``: the worker adds the council)
        when a stored report or an earlier file of this run has it."""
        if known is not None:
            return known.meta.report_id, False
        base = report_id_for(name)
        taken = base in self._claimed or self.store.get_report(base) is not None
        self._claimed.add(base)
        return base, taken

    def _finish(self, item: _Item, outcome: ParseOutcome, progress: IngestProgress, started: float,
                vectors: list | None = None) -> IngestResult | _Put:
        started -= outcome.seconds  # its time includes its reading, done in a worker meanwhile
        if outcome.error is not None:
            return self._result(item.name, started, "failed", outcome.error)
        if self._write_failed:
            return self._not_tried(item.name)
        try:
            return self._store(item.name, outcome.doc, outcome.report, progress, started, vectors)
        except Exception as exc:
            return self._failed(item.name, started, exc)

    @staticmethod
    def _result(name: str, started: float, status: Status, message: str = "", **kw) -> IngestResult:
        return IngestResult(name, status, message, seconds=round(time.perf_counter() - started, 3), **kw)

    def _not_tried(self, name: str) -> IngestResult:
        return IngestResult(name, "failed", f"{name}: not tried: {self._write_failed}")

    def _failed(self, name: str, started: float, exc: Exception) -> IngestResult:
        if isinstance(exc, IngestError):
            return self._result(name, started, "failed", str(exc))
        if isinstance(exc, StoreError):  # disk full, read-only, server down: the file is fine, the store is not
            log.warning("%s: %s", name, exc)
            self._write_failed = str(exc)
            return self._result(name, started, "failed", f"{name}: {exc}")
        # one broken file must not stop the batch
        log.error("unexpected error ingesting %s", name, exc_info=exc)
        return self._result(name, started, "failed", f"{name}: unexpected error: {type(exc).__name__}: {exc}")

    def _store(self, name: str, doc: LoadedDocument, parsed: ParsedReport | None, progress: IngestProgress,
               started: float, vectors: list | None = None) -> IngestResult | _Put:
        """Decide which report ``doc`` is: its result, or, where it is new or changed, the
        report embedded and ready to store.

        ``parsed``: ``doc`` as a worker parsed it, used when it was parsed under the id decided
        here, with ``vectors``, its embeddings, where they were made ahead.
        """
        version = content_hash(doc.text)
        stated = parsed.meta if parsed is not None else None
        existing = self._same_report(doc, stated)
        if existing is not None and existing.version == version:
            message = self._reread_judgements(existing, doc.text)
            if doc.path and (existing.meta.source_path != doc.path or existing.meta.file_hash != doc.file_hash):
                # An older store's record (no path), or the same text saved anew: remember the file.
                self.store.update_manifest(existing.meta.report_id,
                                           {"source_path": doc.path, "file_hash": doc.file_hash})
            return self._result(name, started, "unchanged", message, report_id=existing.meta.report_id,
                                sections=existing.sections, chunks=existing.chunks)
        twin = self.store.find_by_hash(version)
        if twin is not None and (existing is None or twin.meta.report_id != existing.meta.report_id):
            return self._result(name, started, "duplicate",
                                f"same text as {twin.meta.source} ({twin.meta.report_id}); not stored twice",
                                report_id=twin.meta.report_id)
        report_id = existing.meta.report_id if existing is not None else self._free_id(doc, stated)
        if parsed is not None and parsed.meta.report_id == report_id:
            report = parsed
        else:
            report, vectors = self.parse(doc, report_id=report_id), None
        if not report.chunks:
            raise IngestError(f"{name}: no text to index after removing page furniture")
        sections, chunks = len(report.sections), len(report.chunks)
        kept = self._kept.pop(report_id, frozenset())
        if vectors is None:
            kept = self._keep_stored(existing) if existing is not None else frozenset()
            vectors = self._embed(name, report, progress)
        embedded = sum(text_key(c.embed_text) not in kept for c in report.chunks)
        status: Status = "replaced" if existing is not None else "ingested"
        message = "new version replaced the old one" if existing is not None else ""
        if existing is not None and embedded < chunks:
            message += f"; {chunks - embedded} of its {chunks} passages kept their vectors"
        return _Put(report, vectors, self._result(name, started, status, message, report_id=report_id,
                                                  sections=sections, chunks=chunks, embedded=embedded))

    def _keep_upload(self, report_id: str, suffix: str, data: bytes) -> None:
        folder = self.settings.uploads_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _forget_upload(self.settings, report_id)  # a copy under another type, e.g. .txt replaced by .pdf
            tmp = folder / f".{report_id}{suffix}.part"
            tmp.write_bytes(data)
            tmp.replace(folder / f"{report_id}{suffix}")
        except OSError as exc:  # the report is in the store; only the copy of the original is lost
            log.warning("could not keep a copy of upload %s in %s: %s", report_id, folder, exc)

    def _reread_judgements(self, record: ReportRecord, text: str | None) -> str:
        """'already in the store', reading again what a newer extractor or unit cutter would
        read differently: its Ofsted judgements, its units (embedded, as they are new)."""
        done = []
        rid = record.meta.report_id
        if record.metadata_stale:
            # Council, kind and dates as this version reads them (older stores named councils
            # two ways and knew no publication or inspection dates); text and chunks stay.
            text = self.store.report_text(rid) if text is None else text
            old = record.meta
            meta, _ = read_meta(text, old.source, old.file_type, report_id=rid,
                                source_path=old.source_path, file_hash=old.file_hash)
            self.store.update_manifest(rid, {**meta.to_dict(), "metadata_version": METADATA_VERSION})
            done.append("its council, kind and dates read again")
        if record.judgements_stale:
            text = self.store.report_text(rid) if text is None else text
            self.store.set_judgements(rid, extract_judgements(text, record.meta.date))
            done.append("Ofsted judgements read again")
        if record.units_stale:
            text = self.store.report_text(rid) if text is None else text
            units = cut_units(text, self.store.sections(rid))
            self._keep_stored(record)  # a unit cut as before keeps its vector
            reuse = self._repeats.plan([u.text_in(text) for u in units])
            vectors = self._repeats.vectors(reuse, self.embedder.embed(
                reuse.todo_texts, batch_size=self.settings.embedding_batch_size))
            self.store.put_units(rid, units, vectors, text)
            done.append(f"{len(units)} sentences and list items cut again, {len(reuse.todo)} embedded")
        return "; ".join(["already in the store", *done])

    def _same_report(self, doc: LoadedDocument, stated: ReportMeta | None = None) -> ReportRecord | None:
        """The stored report ``doc`` is a version of, if any.

        A file on disk is the report stored from the same resolved path. Ofsted names files by
        date alone ("children's services inspection - 18 may 2026.pdf" is five councils'
        reports), so a file name never decides by itself. A store written before paths were
        recorded has records without one: such a record is this file's when it has the file's
        name and states the same council. An upload has no path: it is the stored upload of the
        same name that states the same council, meeting, date and title. ``stated``: what
        ``doc`` states, where it is already read.
        """
        if doc.path:
            known = self.store.find_by_path(doc.path)
            if known is not None:
                return known
        for record in self.store.find_by_source(doc.source):
            meta = record.meta
            if doc.path and meta.source_path:
                continue
            stated = stated or extract_metadata(doc.text, doc.source, doc.file_type)
            if doc.path:  # an older store's record, without a path
                if (meta.council or "").casefold() == (stated.council or "").casefold():
                    return record
            elif meta.source_path is None and meta.identity == stated.identity:
                return record
        return None

    def _free_id(self, doc: LoadedDocument, stated: ReportMeta | None = None) -> str:
        """An id for a new report: from its file name; if another report holds that, with its
        council's place added (then a number), so that ids stay readable and never collide."""
        base = report_id_for(doc.source)
        if self.store.get_report(base) is None:
            return base
        council = (stated or extract_metadata(doc.text, doc.source, doc.file_type)).council
        candidates = [council_id(base, council)] if council else []
        candidates += [f"{base}-{n}" for n in range(2, 10_000)]
        for candidate in candidates:
            if self.store.get_report(candidate) is None:
                return candidate
        raise IngestError(f"{doc.source}: too many reports share this file name")


def remove_report(store: ReportStore, settings: Settings, report_id: str) -> None:
    """Remove a report from the store, and the kept copy of its upload if it came as one
    (under the store's write lock: StoreBusyError while another process writes)."""
    with store_lock(settings, "remove"):
        store.remove_report(report_id)
        _forget_upload(settings, report_id)


def prune_reports(store: ReportStore, settings: Settings, within: Sequence[Path] | None = None, *,
                  dry_run: bool = False) -> list[IngestResult]:
    """Remove the reports whose recorded file is gone; one "pruned" result for each.

    ``within``: only reports whose file was under one of these folders (or is one of these
    files). A folder of them that does not exist prunes nothing (a share not mounted, a typo):
    only a file gone from a folder that is there counts as gone. Uploads, which have no file,
    are never pruned. ``dry_run``: say what would go, remove nothing.
    """
    roots = None if within is None else [Path(p).resolve() for p in within if Path(p).exists()]
    pruned = []
    with store_lock(settings, "prune"):
        for record in store.list_reports():
            path = record.meta.source_path
            if path is None or Path(path).exists():
                continue
            if roots is not None and not any(Path(path).is_relative_to(root) for root in roots):
                continue
            if not dry_run:
                remove_report(store, settings, record.meta.report_id)
            pruned.append(IngestResult(record.meta.source, "pruned", f"its file is gone: {display_name(path)}",
                                       report_id=record.meta.report_id, sections=record.sections,
                                       chunks=record.chunks))
    return pruned


def _forget_upload(settings: Settings, report_id: str) -> None:
    for kept in settings.uploads_dir.glob(f"{report_id}.*"):
        kept.unlink(missing_ok=True)
