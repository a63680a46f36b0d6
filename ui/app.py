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

from assistant.backend import BackendError
from assistant.models import Answer, Citation
from reports_qa.settings import Settings

EXAMPLES = (
    "What needs to improve in North Somerset?",
    "Which councils were judged good overall?",
    "How did Southend change between 2016 and 2019?",
)


@st.cache_resource(show_spinner="Loading the embedding model and the reports…")
def load_assistant(key: str, _settings: Settings):
    """One Assistant per distinct settings (``key``), shared by every session."""
    from assistant import Assistant

    return Assistant.from_settings(_settings)


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
        with st.expander(f"[{c.marker}] {p.heading}"):
            st.caption(f"{p.source}, characters {c.start}–{c.end}" + (f", page {p.page}" if p.page else ""))
            st.markdown(highlighted(c), unsafe_allow_html=True)


def library(assistant) -> None:
    """The reports held, each with its section tree; upload more; remove one."""
    from ingest.loaders import SUPPORTED_TYPES
    from vectorstore.indexer import Indexer

    st.title("Report library")
    records = assistant.store.list_reports()
    st.dataframe(
        [{"council": r.meta.council, "meeting": r.meta.meeting, "date": r.meta.date, "sections": r.sections,
          "chunks": r.chunks, "file": r.meta.source} for r in records],
        hide_index=True, use_container_width=True,
    )
    for r in records:
        with st.expander(f"{r.meta.council} — {r.meta.meeting}, {r.meta.date}: {r.meta.title}"):
            tree = "\n".join(f"{'    ' * s.level}{s.label}" for s in assistant.store.sections(r.meta.report_id))
            st.code(tree, language=None)

    st.subheader("Add reports")
    types = sorted(t.lstrip(".") for t in SUPPORTED_TYPES)
    files = st.file_uploader(f"Report files ({', '.join(types)})", type=types, accept_multiple_files=True)
    if files and st.button("Ingest", type="primary"):
        indexer = Indexer(assistant.store, assistant.embedder, assistant.settings)
        results = []
        with st.status(f"Ingesting {len(files)} file(s)…", expanded=True) as status:
            bar = st.progress(0.0)
            for i, f in enumerate(files, 1):
                results.append(indexer.ingest_bytes(f.getvalue(), f.name))
                bar.progress(i / len(files), text=f.name)
            failed = [r for r in results if not r.ok]
            status.update(label=f"{len(results) - len(failed)} ingested, {len(failed)} failed",
                          state="error" if failed else "complete")
        st.session_state["ingest_results"] = [
            {"file": r.source, "status": r.status, "sections": r.sections, "chunks": r.chunks, "reason": r.message}
            for r in results
        ]
    if st.session_state.get("ingest_results"):
        st.dataframe(st.session_state["ingest_results"], hide_index=True, use_container_width=True)

    st.subheader("Remove a report")
    ids = [r.meta.report_id for r in records]
    target = st.selectbox("Report", ids, index=None, placeholder="Choose a report")
    if target and st.button(f"Remove {target}"):
        assistant.store.remove_report(target)
        st.success(f"Removed {target}.")
        st.rerun()


def evaluation(assistant) -> None:
    """Run a question set from eval/questions and show what `reports-qa eval` shows."""
    from eval.metrics import METRICS
    from eval.questionset import QuestionSetError, load_question_set
    from eval.report import LABELS, chart
    from eval.runner import evaluate
    from reports_qa.settings import PROJECT_ROOT

    st.title("Evaluation")
    sets = sorted((PROJECT_ROOT / "eval" / "questions").glob("*.y*ml"))
    chosen = st.selectbox("Question set", sets, format_func=lambda p: p.name)
    if chosen is None:
        st.info("No question sets in eval/questions.")
        return
    try:
        qset = load_question_set(chosen)
    except QuestionSetError as exc:
        st.error(str(exc))
        return
    limit = st.number_input("Questions to run", 1, len(qset.questions), len(qset.questions))
    baseline = st.checkbox("Also run the naive baseline (1000-character chunks, dense top-4)")
    if not st.button("Run evaluation", type="primary"):
        return
    qset.questions = qset.questions[: int(limit)]
    bar = st.progress(0.0)
    total = len(qset.questions) * (2 if baseline else 1)
    done = []

    def tick(q) -> None:
        done.append(q)
        bar.progress(len(done) / total, text=q.id)

    runs = evaluate([qset], assistant, baseline=baseline, progress=tick)
    st.dataframe(
        [{"metric": LABELS[m], **{r.system: r.summary[m] for r in runs}} for m in METRICS]
        + [{"metric": "passed", **{r.system: f"{r.summary['passed']}/{r.summary['questions']}" for r in runs}}],
        hide_index=True,
    )
    st.markdown("Key-point recall by question type")
    st.markdown(chart(runs), unsafe_allow_html=True)
    for run in runs:
        st.subheader(f"{run.system}: questions that failed ({len(run.failures)})")
        for r in run.failures:
            with st.expander(f"{r.id} ({r.type}) {r.question}"):
                if r.missing_key_points:
                    st.write("Missing: " + "; ".join(r.missing_key_points))
                st.markdown(r.answer)


def main() -> None:
    st.set_page_config(page_title="reports-qa", page_icon="📑", layout="wide")
    settings = Settings()
    assistant = load_assistant(settings.model_dump_json(), settings)
    state = st.session_state
    state.setdefault("messages", [])

    page = st.sidebar.radio("Page", ["Ask", "Library", "Evaluation"], horizontal=True)
    if page != "Ask":
        (library if page == "Library" else evaluation)(assistant)
        return
    catalogue = assistant.catalogue()
    with st.sidebar:
        st.header("reports-qa")
        councils = sorted({m.council for m in catalogue if m.council})
        chosen = st.multiselect("Councils", councils, help="Leave empty to search every report.")
        years = sorted({int(m.date[:4]) for m in catalogue if m.date})
        year = st.selectbox("Year", ["any", *years])
        k = st.slider("Passages", 2, 12, settings.k)
        # Only what is configured: an LLM needs its server or model named in the settings.
        backends = ["extractive"]
        if settings.openai_base_url and settings.openai_model:
            backends.append("openai")
        if settings.llm_model:
            backends.append("llamacpp")
        backend = st.selectbox("Answer backend", backends, help="extractive quotes the reports and needs no LLM")
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
        try:
            answer = None
            draft, text = st.empty(), ""
            with st.spinner("Searching the reports…"):
                for item in assistant.stream(question, history, filters, k=k, backend=backend):
                    if isinstance(item, Answer):
                        answer = item
                    elif backend != "extractive":  # an LLM's unverified draft, replaced below
                        text += item
                        draft.markdown(text + " ▌")
            draft.empty()
        except BackendError as exc:
            st.error(str(exc))
            return
        show_answer(answer)
    state.messages += [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer.answer, "answer": answer},
    ]


main()
