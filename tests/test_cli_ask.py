"""``reports-qa ask`` and ``reports-qa chat`` over the ingested sample corpus."""

from __future__ import annotations

import io
import json

from ui.cli import main


def test_ask_prints_the_answer_and_its_sources(sample_store, capsys):
    code = main(["--data-dir", str(sample_store), "ask", "What needs to improve in North Somerset?"])
    out = capsys.readouterr().out
    assert code == 0
    assert "- Formalised matching of children with their long-term carers. [1]" in out
    assert "[1] North Somerset Council, Executive, 21 Oct 2020 — 1. Summary of Report › What needs to improve" in out
    assert "north-somerset-2020-10-21-executive.txt, characters" in out


def test_ask_json_with_council_and_k(sample_store, capsys):
    code = main(["--data-dir", str(sample_store), "ask", "What needs to improve?", "--council", "Southend",
                 "--year", "2016", "--k", "3", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["answered"] is True and data["backend"] == "extractive"
    assert {c["report_id"] for c in data["citations"]} == {"southend-on-sea-2016-07-12-people-scrutiny-committee"}
    assert len({(r["report_id"], r["section"]) for r in data["retrieved"]}) <= 6  # 2 × k for extractive


def test_ask_about_an_unknown_council(sample_store, capsys):
    code = main(["--data-dir", str(sample_store), "ask", "What did Ofsted say about Essex?", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["answered"] is False
    assert data["answer"].startswith("I hold no report on Essex County Council")


def test_ask_with_an_unreachable_openai_server_is_a_clear_error(sample_store, capsys, monkeypatch):
    monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", "local")
    code = main(["--data-dir", str(sample_store), "ask", "What needs to improve in Swindon?", "--backend", "openai"])
    err = capsys.readouterr().err
    assert code == 1
    assert "127.0.0.1:9" in err


def test_chat_carries_the_conversation(sample_store, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(
        "What needs to improve in North Somerset?\nand what about Swindon?\n/new\nwere there any weak spots in it?\n/quit\n"
    ))
    code = main(["--data-dir", str(sample_store), "chat"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Formalised matching of children" in out
    assert "(searched: What needs to improve in Swindon Borough Council?)" in out
    assert "(new conversation)" in out
    # After /new nothing is carried: "it" names no council, so every report is searched.
    tail = out.split("(new conversation)")[1]
    assert "(searched:" not in tail


def test_ask_help_explains_the_options(capsys):
    try:
        main(["ask", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for option in ("--json", "--council", "--backend", "--k", "--year", "--report"):
        assert option in out
