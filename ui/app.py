"""The Streamlit app: a conversation over the reports, every citation opening its passage.

    streamlit run ui/app.py

Calls the same ``Assistant`` API as the CLI; settings come from the same ``REPORTS_QA_*``
variables. Each page lives in its own module; this one loads the assistant once and routes.
"""

from __future__ import annotations

import reports_qa.logs  # noqa: F401  (offline and telemetry settings before any model library loads)

import streamlit as st

from reports_qa.settings import Settings
from ui.ask_page import ask_page
from ui.eval_page import eval_page
from ui.judgements_page import judgements_page
from ui.library_page import library_page
from ui.sources import md_text
from vectorstore.store import StoreError

PAGES = {
    "Ask": ":material/forum:",
    "Judgements": ":material/grading:",
    "Library": ":material/library_books:",
    "Evaluation": ":material/fact_check:",
}


@st.cache_resource(show_spinner="Loading the embedding model and the reports…")
def load_assistant(key: str, _settings: Settings):
    """One Assistant per distinct settings (``key``), shared by every session."""
    from assistant import Assistant

    return Assistant.from_settings(_settings)


def main() -> None:
    st.set_page_config(page_title="reports-qa", page_icon="📑", layout="wide")
    settings = Settings()
    try:
        assistant = load_assistant(settings.model_dump_json(), settings)
    except StoreError as exc:  # e.g. the Chroma server is down: say so; a rerun tries again
        st.error(str(exc))
        st.button("Try again", icon=":material/refresh:")
        st.stop()
    with st.sidebar:
        st.header("reports-qa", anchor=False)
        page = st.radio("Page", list(PAGES), format_func=lambda p: f"{PAGES[p]} {p}", horizontal=True,
                        label_visibility="collapsed")
        st.caption(md_text(f"Embeddings: {assistant.embedder.summary()}"),
                   help="The runtime that embeds questions is the one the store was built with "
                   "(REPORTS_QA_EMBEDDING_BACKEND chooses it for a new store).")
    try:
        if page == "Ask":
            ask_page(assistant, settings)
        elif page == "Judgements":
            judgements_page(assistant)
        elif page == "Library":
            library_page(assistant, settings)
        else:
            eval_page(assistant)
    except StoreError as exc:  # the store failed between pages' own checks: nothing is lost
        st.error(str(exc))


main()
