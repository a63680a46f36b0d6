"""The Ask page: a conversation whose citation chips open their passage in a side panel.

Session state:
    messages  the conversation: {"role", "content"} plus "answer" (an Answer) or "error"
    open      (message index, citation marker) shown in the side panel, or None
    pending   a question chosen from an example or suggestion button, asked on this run
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import streamlit as st

from assistant.backend import BackendError
from assistant.models import Answer, Citation
from ingest.models import ReportMeta
from reports_qa.settings import Settings
from ui.sources import answer_markdown, facts, md_text, passage_html, report_html
from vectorstore.store import StoreError

EXAMPLES = (
    "What needs to improve in North Somerset?",
    "Which councils were judged good overall?",
    "How did Southend change between 2016 and 2019?",
)


# --- sidebar -------------------------------------------------------------------------------------
def sidebar(catalogue: list[ReportMeta], settings: Settings) -> tuple[dict[str, Any] | None, int, str]:
    """Filters, passages and backend; filters are None when they leave no report to search."""
    state = st.session_state
    councils = sorted({m.council for m in catalogue if m.council})
    chosen = st.multiselect("Councils", councils, placeholder="All councils", help="Leave empty to search every report.")
    years = sorted({int(m.date[:4]) for m in catalogue if m.date})
    chosen_years = st.multiselect("Years", years, placeholder="All years", help="Year of the committee meeting.")
    k = st.slider("Passages per answer", 2, 12, settings.k, help="How many report sections the answer may draw on.")
    # Only what is configured: an LLM needs its server or model named in the settings.
    backends = {"extractive": "Quotes from the reports (no LLM)"}
    if settings.openai_base_url and settings.openai_model:
        backends["openai"] = f"OpenAI-compatible: {settings.openai_model}"
    if settings.llm_model:
        backends["llamacpp"] = f"Local model: {settings.llm_model}"
    backend = st.selectbox("Answer backend", list(backends), format_func=backends.get,
                           help="Whichever writes the answer, every citation is checked against its passage.")
    if st.button("New conversation", icon=":material/add_comment:", width="stretch"):
        state.messages, state.open = [], None
    st.caption(md_text(f"{len(catalogue)} reports held: " + ", ".join(councils)))
    filters: dict[str, Any] = {}
    if chosen:
        filters["councils"] = chosen
    if chosen_years:
        ids = [m.report_id for m in catalogue if m.date and int(m.date[:4]) in chosen_years
               and (not chosen or m.council in chosen)]
        if not ids:
            return None, k, backend
        filters["report_ids"] = ids
    return filters, k, backend


# --- one answer ---------------------------------------------------------------------------------
def _chip(c: Citation) -> str:
    """A source chip's label; chip labels are Markdown, and the title comes from the report."""
    p = c.passage
    title = p.section_title or p.section
    return md_text(f"[{c.marker}] {p.council or p.source} {(p.date or '')[:4]} · {title}".replace("  ", " "))


def _choose(index: int) -> None:
    """A chip was clicked: open its passage, and unselect every other answer's chips."""
    state = st.session_state
    marker = state.get(f"cite-{index}")
    for key in [k for k in state if isinstance(k, str) and k.startswith("cite-") and k != f"cite-{index}"]:
        state[key] = None
    state.open = (index, marker) if marker is not None else None


def _queue(question: str) -> None:
    st.session_state.pending = question


def show_answer(answer: Answer, index: int, catalogue: list[ReportMeta]) -> None:
    # The answer quotes reports (or an LLM that read them): its words are shown, never rendered.
    st.markdown(answer_markdown(answer.answer))
    for note in answer.notes:
        st.caption(f":material/info: {md_text(note)}")
    if not answer.answered:
        councils = sorted({m.council for m in catalogue if m.council})
        if councils:
            st.caption("Questions the reports I hold can answer:")
            for j, council in enumerate(councils[:3]):
                q = f"What needs to improve in {council}?"
                st.button(md_text(q), key=f"suggest-{index}-{j}", on_click=_queue, args=(q,))
    if answer.citations:
        by_marker = {c.marker: c for c in answer.citations}
        st.pills("Sources", list(by_marker), format_func=lambda m: _chip(by_marker[m]),
                 key=f"cite-{index}", on_change=_choose, args=(index,),
                 help="Click a source to read the passage, with the quoted words highlighted.")
    took = answer.timings_ms.get("total")
    if took is not None:
        st.caption(f"{answer.backend} · {took / 1000:.1f} s")


def source_panel(assistant, catalogue: list[ReportMeta]) -> None:
    """The opened citation: where it comes from, its section with the quote marked, the report."""
    state = st.session_state
    index, marker = state.open
    try:
        citation = next(c for c in state.messages[index]["answer"].citations if c.marker == marker)
    except (IndexError, KeyError, StopIteration):
        state.open = None
        return
    p = citation.passage
    meta = next((m for m in catalogue if m.report_id == p.report_id), None)
    with st.container(border=True):
        head, close = st.columns([5, 1], vertical_alignment="center")
        head.subheader(md_text(f"[{marker}] {p.section_title or p.section}"), anchor=False)
        if close.button("", icon=":material/close:", key="close-source", help="Close the source"):
            state[f"cite-{index}"] = None
            state.open = None
            st.rerun()
        rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{k}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in facts(citation, meta))
        # st.html, not st.markdown: report text must not be read as Markdown ("- " items would
        # split the <mark>), and st.html sanitises on top of our escaping.
        st.html(f"<table class='source-facts'>{rows}</table>")
        with st.container(height=360):
            st.html(passage_html(citation))
        if meta is None:
            st.caption("This report has since been removed from the library.")
        elif st.toggle("Open full report", key=f"full-{index}-{marker}", help="The whole report, scrolled to this passage"):
            # Our own markup around escaped report text: nothing from a report can run in this frame.
            st.iframe(report_html(assistant.store.report_text(p.report_id), citation), height=520)


# --- asking -------------------------------------------------------------------------------------
def respond(assistant, question: str, history: list[dict], filters: dict, k: int, backend: str) -> Answer:
    """Ask, showing an LLM's draft as it streams; the verified answer replaces the draft."""
    final: list[Answer] = []

    def pieces() -> Iterator[str]:
        for item in assistant.stream(question, history, filters, k=k, backend=backend):
            if isinstance(item, Answer):
                final.append(item)
            else:
                yield item

    draft = st.empty()
    if backend == "extractive":  # quotes need no streaming: the answer comes in tens of milliseconds
        with st.spinner("Searching the reports…"):
            for _ in pieces():
                pass
    else:
        with draft.container():
            st.caption("Draft: every claim is being checked against its source…")
            shown, text = st.empty(), ""
            for piece in pieces():  # not st.write_stream: it would render the model's Markdown
                text += piece
                shown.markdown(answer_markdown(text))
    draft.empty()
    return final[-1]


def ask_page(assistant, settings: Settings) -> None:
    state = st.session_state
    state.setdefault("messages", [])
    state.setdefault("open", None)
    catalogue = assistant.catalogue()
    with st.sidebar:
        filters, k, backend = sidebar(catalogue, settings)

    st.title("Ask the reports")
    if not catalogue:
        st.warning("No reports are loaded yet. Add some on the Library page, or run `reports-qa ingest`.")
    talk, panel = st.columns([3, 2], gap="large") if state.open else (st.container(), None)

    question = st.chat_input("Ask about the reports, e.g. “What needs to improve in North Somerset?”")
    question = question or state.pop("pending", None)
    with talk:
        for i, message in enumerate(state.messages):
            with st.chat_message(message["role"]):
                if "answer" in message:
                    show_answer(message["answer"], i, catalogue)
                elif "error" in message:
                    st.error(md_text(message["error"]))
                else:
                    st.markdown(md_text(message["content"]))
        if not state.messages and not question:
            st.caption("Try one of these:")
            for i, example in enumerate(EXAMPLES):
                st.button(example, key=f"example-{i}", on_click=_queue, args=(example,))
        if question:
            ask(assistant, question, filters, k, backend, catalogue)
    if panel is not None and state.open:
        with panel:
            source_panel(assistant, catalogue)


def ask(assistant, question: str, filters: dict | None, k: int, backend: str, catalogue: list[ReportMeta]) -> None:
    state = st.session_state
    history = [{"role": m["role"], "content": m["content"]} for m in state.messages if "error" not in m]
    with st.chat_message("user"):
        st.markdown(md_text(question))
    turn: dict[str, Any] = {"role": "assistant", "content": ""}
    with st.chat_message("assistant"):
        if filters is None:
            turn["error"] = "None of the reports I hold match the chosen councils and years. Clear a filter in the sidebar."
            st.error(turn["error"])
        else:
            try:
                answer = respond(assistant, question, history, filters, k, backend)
                turn.update(content=answer.answer, answer=answer)
                show_answer(answer, len(state.messages) + 1, catalogue)
            except (BackendError, StoreError) as exc:
                turn["error"] = str(exc)  # may quote a server's reply
                st.error(md_text(turn["error"]))
    state.messages += [{"role": "user", "content": question}, turn]
