"""The Evaluation page: run a question set and show what `reports-qa eval` shows."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from eval.metrics import METRICS
from eval.questionset import QuestionSet, QuestionSetError, load_question_set
from eval.report import LABELS, chart
from eval.runner import evaluate
from reports_qa.settings import PROJECT_ROOT
from ui.sources import answer_markdown, md_text


def _uploaded_set(upload) -> QuestionSet:
    """Load an uploaded set from a file we name; errors name the upload, not our temp file."""
    suffix = Path(upload.name).suffix.lower()
    if suffix not in (".yaml", ".yml", ".jsonl"):
        raise QuestionSetError(f"{upload.name}: a question set is a .yaml, .yml or .jsonl file")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"uploaded{suffix}"
        path.write_bytes(upload.getvalue())
        try:
            return load_question_set(path)
        except (QuestionSetError, UnicodeDecodeError) as exc:
            raise QuestionSetError(str(exc).replace(str(path), upload.name)) from None


def eval_page(assistant) -> None:
    st.title("Evaluation")
    st.caption("Each question has a key: the passages that answer it and the points a good answer makes.")
    sets = sorted((PROJECT_ROOT / "eval" / "questions").glob("*.y*ml"))
    chosen = st.selectbox("Question set", sets, format_func=lambda p: p.name, index=0 if sets else None)
    upload = st.file_uploader("…or upload a question set (.yaml or .jsonl, the same format as eval/questions)")
    try:
        if upload is not None:
            qset = _uploaded_set(upload)
        elif chosen is not None:
            qset = load_question_set(chosen)
        else:
            st.info("No question sets in eval/questions: upload one.")
            return
    except QuestionSetError as exc:
        st.error(f"That question set cannot be used:\n\n{md_text(str(exc))}")
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
        bar.progress(len(done) / total, text=md_text(q.id))

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
            with st.expander(md_text(f"{r.id} ({r.type}) {r.question}")):
                if r.missing_key_points:
                    st.markdown(md_text("Missing: " + "; ".join(r.missing_key_points)))
                st.markdown(answer_markdown(r.answer))
