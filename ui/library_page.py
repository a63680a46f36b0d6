"""The Library page: the reports held, found by search and filters a page at a time, each with
its section tree; add reports by upload; remove one.

Uploads go through the same ``Indexer`` as ``reports-qa ingest``: each file gets its own result
(a bad file never stops the rest), and the original is kept under a name we generate. Writes
take the store's write lock: while another process ingests, an upload or removal is refused
with a message saying so, and nothing changes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import streamlit as st

from assistant.models import describe_meta
from ingest.loaders import SUPPORTED_TYPES
from ingest.models import ReportMeta
from reports_qa.settings import Settings
from ui.sources import md_text
from vectorstore.indexer import Indexer, IngestResult, remove_report
from vectorstore.lock import StoreBusyError
from vectorstore.progress import ProgressCount
from vectorstore.store import ReportRecord

PAGE_SIZE = 50
KINDS = ("Committee report", "Inspection report", "Other report")


def report_kind(meta: ReportMeta) -> str:
    """What sort of report this is, from what it states: a committee report names its meeting;
    an Ofsted (or other) inspection report names no meeting and calls itself an inspection."""
    if meta.meeting:
        return KINDS[0]
    if "inspection" in f"{meta.title or ''} {meta.source}".casefold():
        return KINDS[1]
    return KINDS[2]


def find_reports(records: Sequence[ReportRecord], query: str = "", councils: Sequence[str] = (),
                 kinds: Sequence[str] = ()) -> list[ReportRecord]:
    """The reports whose title, council, file name or id hold every word of ``query`` (any
    case), of one of ``councils`` and one of ``kinds`` (empty: any), in catalogue order."""
    words = query.casefold().split()
    found = []
    for r in records:
        m = r.meta
        if councils and (m.council or "") not in councils:
            continue
        if kinds and report_kind(m) not in kinds:
            continue
        haystack = " ".join(v or "" for v in (m.title, m.council, m.source, m.report_id)).casefold()
        if all(w in haystack for w in words):
            found.append(r)
    return found


def _left(started: float, fraction: float) -> str:
    """The time left at this pace, in words ("about 3 min left")."""
    if fraction <= 0.02:
        return "estimating time left…"
    seconds = (time.monotonic() - started) * (1 - fraction) / fraction
    return f"about {math.ceil(seconds / 60)} min left" if seconds >= 90 else f"about {max(1, round(seconds))} s left"


class _Bar(ProgressCount):
    """One progress bar across every file, with the time left: a file counts whole once done,
    and by its passages embedded while it embeds."""

    def __init__(self, files: int) -> None:
        super().__init__()
        self.bar = st.progress(0.0)
        self.total = files
        self.started = time.monotonic()

    def _show(self, what: str) -> None:
        fraction = min(1.0, self.fraction / self.total)
        self.bar.progress(fraction, text=md_text(f"{self.done}/{self.total} files · {_left(self.started, fraction)}"
                                                 f" · {what}"))

    def chunks_planned(self, source: str, n: int) -> None:
        super().chunks_planned(source, n)
        self._show(f"{source}: embedding")

    def chunks_embedded(self, n: int) -> None:
        super().chunks_embedded(n)
        self._show(f"{self.name}: {self.embedded}/{self.planned} passages")

    def file_done(self, result: IngestResult) -> None:
        super().file_done(result)
        self._show(f"{result.source}: {result.status}")


def upload(assistant, settings: Settings) -> None:
    state = st.session_state
    state.setdefault("upload_round", 0)
    types = sorted(t.lstrip(".") for t in SUPPORTED_TYPES)
    # No ``type=``: Streamlit would refuse other files by raising on the whole page; our loader
    # refuses them per file, with the reason, like `reports-qa ingest`.
    files = st.file_uploader(
        f"Report files ({', '.join(types)})", accept_multiple_files=True, key=f"upload-{state.upload_round}",
        help=f"{', '.join(types)}; up to {settings.max_file_mb:g} MB each. A file with the same name as "
             "a report already held replaces it.",
    )
    if files and st.button(f"Ingest {len(files)} file(s)", type="primary"):
        indexer = Indexer(assistant.store, assistant.embedder, settings)
        with st.status(f"Ingesting {len(files)} file(s)…", expanded=True) as status:
            try:
                results = indexer.ingest_uploads([(f.getvalue(), f.name) for f in files], _Bar(len(files)))
            except StoreBusyError as exc:
                status.update(label="Not ingested", state="error", expanded=False)
                st.error(md_text(str(exc)))
                return
            failed = sum(not r.ok for r in results)
            status.update(label=f"{len(results) - failed} ingested, {failed} failed",
                          state="error" if failed else "complete", expanded=False)
        state.ingest_results = [
            {"file": r.source, "status": r.status, "sections": r.sections, "chunks": r.chunks, "reason": r.message}
            for r in results
        ]
        state.upload_round += 1  # a fresh uploader: the files are in, or have their reasons below
        st.rerun()
    results = state.get("ingest_results")
    if results:
        failed = [r for r in results if r["status"] == "failed"]
        if failed:
            st.error("Not added:\n" + "\n".join(f"- {md_text(r['reason'])}" for r in failed))
        if len(failed) < len(results):
            st.success(f"{len(results) - len(failed)} file(s) added or already held.")
        st.dataframe(results, hide_index=True, width="stretch")


def _label(m: ReportMeta) -> str:
    """The selected report's heading, named as answers name it ("Medway Council, Ofsted report
    published 23 Aug 2013: ...")."""
    return f"{describe_meta(m)}: {m.title or m.source}"


def catalogue(assistant, settings: Settings, records: list[ReportRecord]) -> None:
    """Search, filters and one page of the reports; a selected row shows its section tree."""
    search, council, kind = st.columns([3, 3, 2])
    query = search.text_input("Search", placeholder="words in the title, council or file name")
    councils = council.multiselect("Council", sorted({r.meta.council for r in records if r.meta.council}))
    kinds = kind.multiselect("Kind", [k for k in KINDS if any(report_kind(r.meta) == k for r in records)])
    found = find_reports(records, query, councils, kinds)
    # Keys name the filters, so a page number or a selection never outlives the rows it was made on.
    view = f"{query}\x1f{'|'.join(councils)}\x1f{'|'.join(kinds)}"
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                                   key=f"library-page-{view}"))
    rows = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    held = f" (of {len(records)} held)" if len(found) != len(records) else ""
    if rows:
        st.caption(f"Reports {(page - 1) * PAGE_SIZE + 1}–{(page - 1) * PAGE_SIZE + len(rows)} of {len(found)}{held}. "
                   "Select a row for its section tree.")
    else:
        st.caption(f"No report matches{held}.")
    event = st.dataframe(
        [{"council": r.meta.council, "meeting": r.meta.meeting, "date": r.meta.date, "title": r.meta.title,
          "kind": report_kind(r.meta), "sections": r.sections, "chunks": r.chunks, "file": r.meta.source}
         for r in rows],
        key=f"library-table-{view}\x1f{page}", hide_index=True, width="stretch", on_select="rerun",
        selection_mode="single-row",
    )
    selected = [i for i in event.selection.rows if 0 <= i < len(rows)]
    if not selected:
        return
    record = rows[selected[0]]
    rid = record.meta.report_id
    st.markdown(f"**{md_text(_label(record.meta))}**  \n{md_text(record.meta.source)} · {md_text(rid)}")
    tree = "\n".join(f"{'    ' * s.level}{s.label}" for s in assistant.store.sections(rid))
    st.code(tree, language=None)
    if st.button(f"Remove {rid}", type="secondary", key=f"remove-{rid}"):
        try:
            remove_report(assistant.store, settings, rid)
        except StoreBusyError as exc:
            st.error(md_text(str(exc)))
            return
        st.session_state.open = None  # its passage may be open on the Ask page
        st.toast(md_text(f"Removed {rid}."))
        st.rerun()


def library_page(assistant, settings: Settings) -> None:
    st.title("Report library")
    records = assistant.store.list_reports()
    if records:
        catalogue(assistant, settings, records)
    else:
        st.info("No reports yet: add some below, or run `reports-qa ingest`.")
    st.subheader("Add reports")
    upload(assistant, settings)
