"""The Streamlit app under ``streamlit.testing`` (AppTest): real assistant, real sample store."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from reports_qa.settings import PROJECT_ROOT

APP = str(PROJECT_ROOT / "ui" / "app.py")


@pytest.fixture
def app(sample_store, monkeypatch) -> AppTest:
    monkeypatch.setenv("REPORTS_QA_DATA_DIR", str(sample_store))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def test_a_question_gets_a_cited_answer_with_the_passage_highlighted(app):
    ask(app, "What needs to improve in North Somerset?")
    reply = app.chat_message[-1]
    assert "Formalised matching of children with their long-term carers. [1]" in reply.markdown[0].value
    [expander] = reply.expander
    assert "North Somerset Council, Executive, 21 Oct 2020 — 1. Summary of Report › What needs to improve" in expander.label
    passage = expander.markdown[0].value
    assert "<mark>The effectiveness, and management oversight" in passage


def test_follow_up_and_a_council_we_do_not_hold(app):
    ask(app, "What needs to improve in North Somerset?")
    ask(app, "and what about Swindon?")
    assert "Swindon Borough Council" in app.chat_message[-1].expander[0].label
    ask(app, "What did Ofsted say about Essex?")
    assert app.chat_message[-1].markdown[0].value.startswith("I hold no report on Essex County Council")
    assert len(app.chat_message) == 6


def test_council_filter_and_new_conversation(app):
    app.sidebar.multiselect[0].set_value(["Southend-on-Sea Borough Council"]).run()
    ask(app, "What needs to improve?")
    assert all("Southend-on-Sea" in e.label for e in app.chat_message[-1].expander)
    app.sidebar.button[0].click().run()
    assert len(app.chat_message) == 0


def test_example_questions_on_an_empty_conversation(app):
    labels = [b.label for b in app.button]
    assert "What needs to improve in North Somerset?" in labels
    next(b for b in app.button if b.label == "What needs to improve in North Somerset?").click().run()
    assert "What needs to improve" in app.chat_message[-1].expander[0].label
