"""Secrets are used and never shown: the OpenAI-compatible server's API key and the Chroma
server's token reach their servers, and appear in no log line (at debug level), no printed
output or error, no ``--json`` and nothing the app puts on the page."""

from __future__ import annotations

import logging
import socket

import pytest

from reports_qa.settings import Settings
from tests.test_app import ask, open_app, visible
from tests.test_llm import StubServer, stub_server  # noqa: F401  (stub_server: the module-scoped fixture)
from ui.cli import main

KEY = "sk-test-never-shown-5f2c9a17"
TOKEN = "chroma-token-never-shown-81be40"
QUESTION = "What needs to improve in North Somerset?"


@pytest.fixture
def secrets(monkeypatch) -> None:
    for var in ("REPORTS_QA_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REPORTS_QA_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", "stub-model")


def shown(capsys, caplog) -> str:
    out, err = capsys.readouterr()
    return out + err + caplog.text


def test_settings_never_print_their_secrets(secrets, monkeypatch):
    monkeypatch.setenv("REPORTS_QA_CHROMA_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("REPORTS_QA_CHROMA_TOKEN", TOKEN)
    settings = Settings()
    assert settings.openai_api_key.get_secret_value() == KEY and settings.chroma_token.get_secret_value() == TOKEN
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert KEY not in text and TOKEN not in text


def test_the_key_reaches_the_server_and_nothing_else(secrets, sample_store, stub_server: StubServer, capsys, caplog, monkeypatch):
    monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", stub_server.url)
    stub_server.authorization.clear()
    caplog.set_level(logging.DEBUG)
    for json_flag in ([], ["--json"]):
        assert main(["-vv", "--data-dir", str(sample_store), "ask", QUESTION, "--backend", "openai", *json_flag]) == 0
    assert stub_server.authorization and set(stub_server.authorization) == {f"Bearer {KEY}"}
    text = shown(capsys, caplog)
    assert "Formalised matching" in text  # the answer was printed...
    assert KEY not in text  # ...and the key nowhere


def test_a_backend_error_never_shows_the_key(secrets, sample_store, capsys, caplog, monkeypatch):
    monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    caplog.set_level(logging.DEBUG)
    assert main(["-vv", "--data-dir", str(sample_store), "ask", QUESTION, "--backend", "openai"]) == 1
    text = shown(capsys, caplog)
    assert "127.0.0.1:9" in text and KEY not in text


def test_a_chroma_server_that_is_down_never_shows_the_token(monkeypatch, capsys, caplog, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once closed
    monkeypatch.setenv("REPORTS_QA_CHROMA_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("REPORTS_QA_CHROMA_TOKEN", TOKEN)
    monkeypatch.setenv("REPORTS_QA_CHROMA_RETRIES", "0")
    caplog.set_level(logging.DEBUG)
    assert main(["-vv", "--data-dir", str(tmp_path), "reports"]) == 1
    text = shown(capsys, caplog)
    assert f"127.0.0.1:{port}" in text and TOKEN not in text


def _page_text(at) -> str:
    """Every value and label the app has put on the page, Markdown escapes undone (an escaped
    key, "sk\\-...", is still the key)."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "text", "code", "json",
                 "exception", "title", "header", "subheader", "selectbox", "text_input", "button", "expander"):
        for element in getattr(at, kind, []):
            for attr in ("value", "label", "body", "options", "message"):
                try:
                    parts.append(str(getattr(element, attr)))
                except Exception:  # an attribute this kind does not have
                    pass
    return visible("\n".join(parts))


def test_the_app_never_shows_the_key(secrets, sample_store, stub_server: StubServer, monkeypatch, caplog):
    monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", stub_server.url)
    caplog.set_level(logging.DEBUG)
    at = open_app(sample_store, monkeypatch)
    at.sidebar.selectbox[0].set_value("openai").run()
    ask(at, QUESTION)
    assert "Formalised matching" in _page_text(at)
    monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # and when the server is down
    down = open_app(sample_store, monkeypatch)
    down.sidebar.selectbox[0].set_value("openai").run()
    ask(down, QUESTION)
    assert "127.0.0.1:9" in _page_text(down)
    for text in (_page_text(at), _page_text(down), caplog.text):
        assert KEY not in text
