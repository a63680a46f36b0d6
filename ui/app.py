"""The Streamlit app: a conversation over the reports, every citation opening its passage.

    streamlit run ui/app.py

Calls the same ``Assistant`` API as the CLI; settings come from the same ``REPORTS_QA_*``
variables. (First slice of the app: conversation, citations, filters. The report library,
upload and evaluation pages come next.)
"""

from __future__ import annotations

import html

import reports_qa.logs  # noqa: F401  (offline and telemetry settings before any model library loads)

import streamlit as st

from assistant.models import Answer, Citation, describe_report
from reports_qa.settings import Settings

EXAMPLES = (
    "What needs to improve in North Somerset?",
    "Which councils were judged good overall?",
    "How did Southend change between 2016 and 2019?",
)


@st.cache_resource(show_spinner="Loading the embedding model and the reports…")
def load_assistant(data_dir: str):
    from assistant import Assistant

    return Assistant.from_settings(Settings(data_dir=data_dir))


def highlighted(citation: Citation) -> str:
    """The cited passage as HTML-escaped text with the quote marked, from the stored offsets."""
    p = citation.passage
    before = p.text[: citation.start - p.start]
    quote = p.text[citation.start - p.start : citation.end - p.start]
    after = p.text[citation.end - p.start :]
    body = f"{html.escape(before)}<mark>{html.escape(quote)}</mark>{html.escape(after)}"
    return f'<div style="white-space: pre-wrap; font-size: 0.9em">{body}</div>'


def show_answer(answer: Answer) -> None:
    st.markdown(answer.answer)
    for note in answer.notes:
        st.info(note)
    for c in answer.citations:
        p = c.passage
        with st.expander(f"[{c.marker}] {describe_report(p.council, p.meeting, p.date)} — {' › '.join(p.section_path)}"):
            st.caption(f"{p.source}, characters {c.start}–{c.end}" + (f", page {p.page}" if p.page else ""))
            st.markdown(highlighted(c), unsafe_allow_html=True)


def main() -> None:
    st.set_page_config(page_title="reports-qa", page_icon="📑", layout="wide")
    settings = Settings()
    assistant = load_assistant(str(settings.data_dir))
    catalogue = assistant.catalogue()
    state = st.session_state
    state.setdefault("messages", [])

    with st.sidebar:
        st.header("reports-qa")
        councils = sorted({m.council for m in catalogue if m.council})
        chosen = st.multiselect("Councils", councils, help="Leave empty to search every report.")
        years = sorted({int(m.date[:4]) for m in catalogue if m.date})
        year = st.selectbox("Year", ["any", *years])
        k = st.slider("Passages", 2, 12, settings.k)
        if st.button("New conversation", use_container_width=True):
            state.messages = []
        st.caption(f"{len(catalogue)} reports held: " + ", ".join(councils))

    st.title("Ask the reports")
    if not catalogue:
        st.warning("No reports are loaded yet. Run `reports-qa ingest` to add the sample reports.")

    for message in state.messages:
        with st.chat_message(message["role"]):
            if message["role"] == "assistant":
                show_answer(message["answer"])
            else:
                st.markdown(message["content"])

    question = st.chat_input("Ask about the reports, e.g. “What needs to improve in North Somerset?”")
    if not state.messages and not question:
        st.caption("Try one of these:")
        for i, example in enumerate(EXAMPLES):
            if st.button(example, key=f"example-{i}"):
                question = example
    if not question:
        return

    filters: dict = {}
    if chosen:
        filters["councils"] = chosen
    if year != "any":
        filters["year"] = year
    history = [{"role": m["role"], "content": m["content"]} for m in state.messages]
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        with st.spinner("Searching the reports…"):
            answer = assistant.ask(question, history=history, filters=filters, k=k)
        show_answer(answer)
    state.messages += [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer.answer, "answer": answer},
    ]


main()
