"""Ingest files into the store: load, parse, embed, and swap each report in whole.

One bad file never stops a batch: every file gets a result with a one-line reason, and a
report reaches the store only after all of its chunks are embedded, so a failure part-way
leaves the previous version (or nothing) in place, never half a report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePath
from typing import Literal

from ingest.councils import lookup
from ingest.judgements import extract_judgements, no_overall_grade
from ingest.loaders import (
    IngestError,
    display_name,
    file_digest,
    iter_report_files,
    load_bytes,
    load_document,
    read_report_file,
    upload_name,
)
from ingest.metadata import METADATA_VERSION, extract_metadata, report_id_for, slugify
from ingest.models import LoadedDocument, ParsedReport, content_hash
from ingest.units import cut_units
from ingest.parse import parse_document
from reports_qa.settings import Settings
from vectorstore.embeddings import Embedder
from vectorstore.store import ReportRecord, ReportStore, StoreError, open_store

log = logging.getLogger(__name__)

Status = Literal["ingested", "replaced", "unchanged", "duplicate", "failed"]


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


class IngestProgress:
    """Callbacks a front end can implement to show progress; the default does nothing."""

    def file_started(self, source: str, index: int, total: int) -> None: ...

    def chunks_planned(self, source: str, n: int) -> None: ...

    def chunks_embedded(self, n: int) -> None: ...

    def file_done(self, result: IngestResult) -> None: ...


class Indexer:
    def __init__(self, store: ReportStore, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._write_failed: str | None = None  # set when the store failed a write during ingest_paths

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

    def ingest_paths(self, paths: Iterable[Path], progress: IngestProgress | None = None) -> list[IngestResult]:
        """Ingest files and folders; a crash-leftover from an earlier run is cleaned up first."""
        progress = progress or IngestProgress()
        orphans = self.store.repair()
        if orphans:
            log.warning("removed %d chunks left behind by an interrupted ingest", orphans)
        entries = list(iter_report_files(paths))
        results = []
        self._write_failed = None
        for i, (path, error) in enumerate(entries):
            name = display_name(path.name)  # a name with a newline must not break a table row
            progress.file_started(name, i, len(entries))
            if error is not None:
                result = IngestResult(name, "failed", str(error))
            elif self._write_failed:
                # After a failed write (a full disk), Chroma's next write can hang: write nothing more.
                result = IngestResult(name, "failed", f"{name}: not tried: {self._write_failed}")
            else:
                result = self._ingest_one(name, progress, path=path)
            progress.file_done(result)
            results.append(result)
        return results

    def ingest_bytes(self, data: bytes, filename: str, progress: IngestProgress | None = None) -> IngestResult:
        """Ingest an upload; ``filename`` names the report, its path is never used.

        A stored upload is kept as ``uploads/<report id><type>``: a name we generate, so a
        user's file name can never choose where it is written.
        """
        progress = progress or IngestProgress()
        name = upload_name(filename)
        result = self._ingest_one(name, progress, upload=data)
        if result.status in ("ingested", "replaced") and result.report_id:
            self._keep_upload(result.report_id, PurePath(name).suffix.lower(), data)
        progress.file_done(result)
        return result

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

    def _ingest_one(self, name: str, progress: IngestProgress, *, path: Path | None = None,
                    upload: bytes | None = None) -> IngestResult:
        """Ingest one file from disk (``path``) or one upload (its bytes)."""
        started = time.perf_counter()

        def done(status: Status, message: str = "", **kw) -> IngestResult:
            return IngestResult(name, status, message, seconds=round(time.perf_counter() - started, 3), **kw)

        try:
            if path is not None:
                data = read_report_file(path, max_bytes=self.max_bytes)
                known = self.store.find_by_path(str(Path(path).resolve()))
                if known is not None and known.meta.file_hash == file_digest(data):
                    # The same bytes at the same path: nothing to read, parse or embed.
                    return done("unchanged", self._reread_judgements(known, None), report_id=known.meta.report_id,
                                sections=known.sections, chunks=known.chunks)
                doc = load_document(path, max_bytes=self.max_bytes, max_text_chars=self.settings.max_text_chars,
                                    data=data)
            else:
                doc = load_bytes(upload or b"", name, max_bytes=self.max_bytes,
                                 max_text_chars=self.settings.max_text_chars)
            version = content_hash(doc.text)
            existing = self._same_report(doc)
            if existing is not None and existing.version == version:
                message = self._reread_judgements(existing, doc.text)
                if doc.path and (existing.meta.source_path != doc.path or existing.meta.file_hash != doc.file_hash):
                    # An older store's record (no path), or the same text saved anew: remember the file.
                    self.store.update_manifest(existing.meta.report_id,
                                               {"source_path": doc.path, "file_hash": doc.file_hash})
                return done("unchanged", message, report_id=existing.meta.report_id,
                            sections=existing.sections, chunks=existing.chunks)
            twin = self.store.find_by_hash(version)
            if twin is not None and (existing is None or twin.meta.report_id != existing.meta.report_id):
                return done("duplicate", f"same text as {twin.meta.source} ({twin.meta.report_id}); not stored twice",
                            report_id=twin.meta.report_id)
            report_id = existing.meta.report_id if existing is not None else self._free_id(doc)
            report = self.parse(doc, report_id=report_id)
            if not report.chunks:
                raise IngestError(f"{name}: no text to index after removing page furniture")
            progress.chunks_planned(name, len(report.chunks))
            vectors = self.embedder.embed(
                report.embed_texts(),
                batch_size=self.settings.embedding_batch_size,
                progress=progress.chunks_embedded,
            )
            self.store.put_report(report, vectors)
            status: Status = "replaced" if existing is not None else "ingested"
            message = "new version replaced the old one" if existing is not None else ""
            return done(status, message, report_id=report_id, sections=len(report.sections),
                        chunks=len(report.chunks), embedded=len(vectors))
        except IngestError as exc:
            return done("failed", str(exc))
        except StoreError as exc:  # disk full, read-only, server down: the file is fine, the store is not
            log.warning("%s: %s", name, exc)
            self._write_failed = str(exc)
            return done("failed", f"{name}: {exc}")
        except Exception as exc:  # one broken file must not stop the batch
            log.exception("unexpected error ingesting %s", name)
            return done("failed", f"{name}: unexpected error: {type(exc).__name__}: {exc}")

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
            meta = extract_metadata(text, old.source, old.file_type, report_id=rid)
            meta = replace(meta, source_path=old.source_path, file_hash=old.file_hash,
                           no_overall_grade=no_overall_grade(extract_judgements(text, meta.date), meta.inspection_start))
            self.store.update_manifest(rid, {**meta.to_dict(), "metadata_version": METADATA_VERSION})
            done.append("its council, kind and dates read again")
        if record.judgements_stale:
            text = self.store.report_text(rid) if text is None else text
            self.store.set_judgements(rid, extract_judgements(text, record.meta.date))
            done.append("Ofsted judgements read again")
        if record.units_stale:
            text = self.store.report_text(rid) if text is None else text
            units = cut_units(text, self.store.sections(rid))
            vectors = self.embedder.embed([u.text_in(text) for u in units],
                                          batch_size=self.settings.embedding_batch_size)
            self.store.put_units(rid, units, vectors, text)
            done.append(f"{len(units)} sentences and list items embedded")
        return "; ".join(["already in the store", *done])

    def _same_report(self, doc: LoadedDocument) -> ReportRecord | None:
        """The stored report ``doc`` is a version of, if any.

        A file on disk is the report stored from the same resolved path. Ofsted names files by
        date alone ("children's services inspection - 18 may 2026.pdf" is five councils'
        reports), so a file name never decides by itself. A store written before paths were
        recorded has records without one: such a record is this file's when it has the file's
        name and states the same council. An upload has no path: it is the stored upload of the
        same name that states the same council, meeting, date and title.
        """
        if doc.path:
            known = self.store.find_by_path(doc.path)
            if known is not None:
                return known
        stated = extract_metadata(doc.text, doc.source, doc.file_type)
        for record in self.store.find_by_source(doc.source):
            meta = record.meta
            if doc.path and meta.source_path:
                continue
            if doc.path:  # an older store's record, without a path
                if (meta.council or "").casefold() == (stated.council or "").casefold():
                    return record
            elif meta.source_path is None and meta.identity == stated.identity:
                return record
        return None

    def _free_id(self, doc: LoadedDocument) -> str:
        """An id for a new report: from its file name; if another report holds that, with its
        council's name added (then a number), so that ids stay readable and never collide."""
        base = report_id_for(doc.source)
        if self.store.get_report(base) is None:
            return base
        council = extract_metadata(doc.text, doc.source, doc.file_type).council
        known = lookup(council) if council else None
        candidates = [f"{base}-{slugify(known.place if known else council)}"] if council else []
        candidates += [f"{base}-{n}" for n in range(2, 10_000)]
        for candidate in candidates:
            if self.store.get_report(candidate) is None:
                return candidate
        raise IngestError(f"{doc.source}: too many reports share this file name")


def remove_report(store: ReportStore, settings: Settings, report_id: str) -> None:
    """Remove a report from the store, and the kept copy of its upload if it came as one."""
    store.remove_report(report_id)
    _forget_upload(settings, report_id)


def _forget_upload(settings: Settings, report_id: str) -> None:
    for kept in settings.uploads_dir.glob(f"{report_id}.*"):
        kept.unlink(missing_ok=True)
