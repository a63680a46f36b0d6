"""The Library page: the reports held and their section trees; add reports by upload; remove one.

Uploads go through the same ``Indexer`` as ``reports-qa ingest``: each file gets its own result
(a bad file never stops the rest), and the original is kept under a name we generate.
"""

from __future__ import annotations

import streamlit as st

from ingest.loaders import SUPPORTED_TYPES
from reports_qa.settings import Settings
from ui.sources import md_text
from vectorstore.indexer import Indexer, IngestProgress, IngestResult, remove_report


class _Bar(IngestProgress):
    """Moves one progress bar through every chunk of every file."""

    def __init__(self, files: int) -> None:
        self.bar = st.progress(0.0)
        self.files, self.done, self.planned, self.embedded, self.name = files, 0, 0, 0, ""

    def _show(self) -> None:
        within = self.embedded / self.planned if self.planned else 0.0
        self.bar.progress(min(1.0, (self.done + within) / self.files),
                          text=md_text(f"{self.name}: {self.embedded}/{self.planned} chunks"))

    def chunks_planned(self, source: str, n: int) -> None:
        self.name, self.planned, self.embedded = source, n, 0
        self._show()

    def chunks_embedded(self, n: int) -> None:
        self.embedded += n
        self._show()

    def file_done(self, result: IngestResult) -> None:
        self.done += 1
        self.bar.progress(self.done / self.files, text=md_text(f"{result.source}: {result.status}"))


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
            bar = _Bar(len(files))
            results = [indexer.ingest_bytes(f.getvalue(), f.name, bar) for f in files]
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


def library_page(assistant, settings: Settings) -> None:
    st.title("Report library")
    records = assistant.store.list_reports()
    if not records:
        st.info("No reports yet: add some below, or run `reports-qa ingest`.")
    st.dataframe(
        [{"council": r.meta.council, "meeting": r.meta.meeting, "date": r.meta.date, "title": r.meta.title,
          "sections": r.sections, "chunks": r.chunks, "file": r.meta.source} for r in records],
        hide_index=True, width="stretch",
    )
    for r in records:
        m = r.meta
        label = (f"{m.council or 'Council not known'} — {m.meeting or 'meeting not known'}, {m.date or 'no date'}: "
                 f"{m.title or m.source}")
        with st.expander(md_text(label)):
            tree = "\n".join(f"{'    ' * s.level}{s.label}" for s in assistant.store.sections(r.meta.report_id))
            st.code(tree, language=None)

    st.subheader("Add reports")
    upload(assistant, settings)

    st.subheader("Remove a report")
    by_id = {r.meta.report_id: r for r in records}
    target = st.selectbox("Report", list(by_id), index=None, placeholder="Choose a report",
                          format_func=lambda i: f"{by_id[i].meta.council}, {by_id[i].meta.date} ({i})")
    if target and st.button(f"Remove {target}", type="secondary"):
        remove_report(assistant.store, settings, target)
        st.session_state.open = None  # its passage may be open on the Ask page
        st.toast(f"Removed {target}.")
        st.rerun()
