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


def test_library_lists_the_reports_with_their_section_trees(app):
    app.sidebar.radio[0].set_value("Library").run()
    assert not app.exception
    rows = app.dataframe[0].value
    assert len(rows) == 5 and set(rows["council"]) >= {"Swindon Borough Council", "London Borough of Southwark"}
    labels = [e.label for e in app.expander]
    assert any(label.startswith("North Somerset Council — Executive, 2020-10-21") for label in labels)
    trees = " ".join(c.value for c in app.code)
    assert "What needs to improve" in trees


def test_library_removes_a_report(settings, store, make_report, embed_report, monkeypatch):
    report = make_report()
    store.put_report(report, embed_report(report))
    store.close()
    monkeypatch.setenv("REPORTS_QA_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.sidebar.radio[0].set_value("Library").run()
    assert len(at.dataframe[0].value) == 1
    at.selectbox[0].set_value(report.meta.report_id).run()
    next(b for b in at.button if b.label.startswith("Remove")).click().run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 0


def test_evaluation_page_runs_a_question_set(app):
    app.sidebar.radio[0].set_value("Evaluation").run()
    assert not app.exception
    app.number_input[0].set_value(3).run()
    next(b for b in app.button if b.label == "Run evaluation").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    assert "reports-qa (extractive)" in table.columns
    assert set(table["metric"]) >= {"recall@k", "citation precision", "key-point recall", "abstention", "passed"}
    assert any("<svg" in m.value for m in app.markdown)


def test_an_llm_backend_streams_and_its_answer_is_verified(sample_store, monkeypatch):
    from tests.test_llm import StubServer

    stub = StubServer()
    stub.thread.start()
    stub.reply = "- Formalised matching of children with their long-term carers. [1]\n- It has 45 inspectors. [1]"
    try:
        monkeypatch.setenv("REPORTS_QA_DATA_DIR", str(sample_store))
        monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", stub.model)
        at = AppTest.from_file(APP, default_timeout=120).run()
        at.sidebar.selectbox[1].set_value("openai").run()
        ask(at, "What needs to improve in North Somerset?")
        reply = at.chat_message[-1]
        assert "Formalised matching of children with their long-term carers." in reply.markdown[0].value
        assert "45 inspectors" not in reply.markdown[0].value
        assert any("removed" in i.value for i in reply.info)
    finally:
        stub.server.shutdown()
        stub.server.server_close()


def test_a_server_that_is_down_is_a_clear_error(sample_store, monkeypatch):
    monkeypatch.setenv("REPORTS_QA_DATA_DIR", str(sample_store))
    monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", "local")
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.sidebar.selectbox[1].set_value("openai").run()
    ask(at, "What needs to improve in Swindon?")
    assert "127.0.0.1:9" in at.error[0].value
