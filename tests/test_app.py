"""The Streamlit app under ``streamlit.testing`` (AppTest): real assistant, real stores, real files."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from reports_qa.settings import PROJECT_ROOT
from tests.conftest import SAMPLE_TEXT

APP = str(PROJECT_ROOT / "ui" / "app.py")
NS_HEADING = "North Somerset Council, Executive, 21 Oct 2020 — 1. Summary of Report › What needs to improve"


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def visible(markdown: str) -> str:
    """The text a reader sees of Markdown made by ``ui.sources.md_text``/``answer_markdown``:
    backslash escapes, hard line breaks and invisible word joiners undone (the page's own
    ``**``/``- `` stay)."""
    return _ESCAPED.sub(r"\1", markdown.replace("  \n", "\n").replace("\u2060", ""))


def open_app(data_dir, monkeypatch) -> AppTest:
    monkeypatch.setenv("REPORTS_QA_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    return at


@pytest.fixture
def app(sample_store, monkeypatch) -> AppTest:
    return open_app(sample_store, monkeypatch)


@pytest.fixture
def empty_app(settings, store, monkeypatch) -> AppTest:
    """The app over a store of its own, which the test may change."""
    store.close()
    return open_app(settings.data_dir, monkeypatch)


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def chips(at: AppTest) -> list[str]:
    """The source chips under the latest answer, as the reader sees them."""
    reply = at.chat_message[-1]
    return [visible(str(o)) for o in reply.pills[0].options] if reply.pills else []


def html_with(at: AppTest, css_class: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if css_class in h.proto.body]


def page(at: AppTest, name: str) -> AppTest:
    at.sidebar.radio[0].set_value(name).run()
    assert not at.exception
    return at


def test_a_citation_chip_opens_its_passage_highlighted_and_the_full_report(app):
    ask(app, "What needs to improve in North Somerset?")
    reply = app.chat_message[-1]
    assert "Formalised matching of children with their long-term carers. [1]" in visible(reply.markdown[0].value)
    got = chips(app)
    assert got[0] == "[1] North Somerset Council 2020 · What needs to improve"
    assert all(chip.split("] ", 1)[1].startswith("North Somerset Council 2020 · ") for chip in got)
    assert not html_with(app, "cited-passage")  # closed until clicked

    reply.pills[0].set_value(1).run()
    assert not app.exception
    [facts] = html_with(app, "source-facts")
    for shown in ("North Somerset Council", "Executive", "21 Oct 2020", "1. Summary of Report › What needs to improve",
                  "north-somerset-2020-10-21-executive.txt, characters 3016–3682"):
        assert shown in facts
    [passage] = html_with(app, "cited-passage")
    quoted = passage.split("<mark", 1)[1].split(">", 1)[1].split("</mark>")[0]
    assert quoted.startswith("The effectiveness, and management oversight")
    assert quoted.endswith("quality and impact of practice for children.")  # all six areas, one mark

    next(t for t in app.toggle if t.label == "Open full report").set_value(True).run()
    [frame] = app.get("iframe")
    report = frame.proto.srcdoc
    assert report.count('id="cited"') == 1 and "scrollIntoView" in report
    assert report.index("Report to the Executive") < report.index('id="cited"')  # the whole report, not the section

    next(b for b in app.button if b.help == "Close the source").click().run()
    assert not html_with(app, "cited-passage")


def test_follow_up_keeps_the_conversation(app):
    ask(app, "What needs to improve in North Somerset?")
    ask(app, "and what about Swindon?")
    assert chips(app)[0].startswith("[1] Swindon Borough Council")
    assert len(app.chat_message) == 4


def test_a_council_we_do_not_hold_is_said_plainly_with_what_we_do_hold(app):
    ask(app, "What did Ofsted say about Essex?")
    reply = app.chat_message[-1]
    assert visible(reply.markdown[0].value).startswith("I hold no report on Essex County Council. I hold reports on:")
    assert chips(app) == []
    suggestion = next(b for b in reply.button if visible(b.label).startswith("What needs to improve in"))
    suggestion.click().run()
    assert visible(app.chat_message[-2].markdown[0].value) == visible(suggestion.label)
    assert chips(app), "the suggested question should be answered with citations"


def test_council_and_year_filters_and_new_conversation(app):
    app.sidebar.multiselect[0].set_value(["Southend-on-Sea Borough Council"]).run()
    ask(app, "What needs to improve?")
    assert chips(app) and all("Southend-on-Sea" in c for c in chips(app))
    app.sidebar.multiselect[1].set_value([2016]).run()
    ask(app, "What was the overall judgement?")
    assert chips(app) and all("2016" in c for c in chips(app))
    app.sidebar.multiselect[1].set_value([2020]).run()  # Southend has no 2020 report
    ask(app, "What was the overall judgement?")
    assert "None of the reports I hold match" in visible(app.chat_message[-1].error[0].value)
    next(b for b in app.sidebar.button if b.label == "New conversation").click().run()
    assert len(app.chat_message) == 0


def test_example_questions_on_an_empty_conversation(app):
    labels = [b.label for b in app.button]
    assert "What needs to improve in North Somerset?" in labels
    next(b for b in app.button if b.label == "What needs to improve in North Somerset?").click().run()
    got = chips(app)
    assert got[0] == "[1] North Somerset Council 2020 · What needs to improve"
    assert all(chip.split("] ", 1)[1].startswith("North Somerset Council 2020 · ") for chip in got)
    assert not [b for b in app.button if b.key and b.key.startswith("example-")]


def select_row(at: AppTest, index: int, table: int = 0) -> AppTest:
    """Select a table row as a reader's click does: through the table's selection state."""
    at.session_state[at.dataframe[table].key] = {"selection": {"rows": [index]}}
    at.run()
    assert not at.exception
    return at


def library_table(at: AppTest):
    return at.dataframe[0].value


def test_library_lists_the_reports_with_their_section_trees(app):
    page(app, "Library")
    rows = library_table(app)
    assert len(rows) == 5 and set(rows["council"]) >= {"Swindon Borough Council", "London Borough of Southwark"}
    assert not app.code  # a tree shows once its report is selected
    select_row(app, list(rows["council"]).index("North Somerset Council"))
    assert any(visible(m.value).startswith("**North Somerset Council, Executive, 21 Oct 2020: ") for m in app.markdown)
    assert "What needs to improve" in app.code[0].value


def test_upload_adds_good_files_and_explains_bad_ones(empty_app, settings):
    at = page(empty_app, "Library")
    assert not at.dataframe and "No reports yet" in at.info[0].value
    at.file_uploader[0].set_value([
        ("../../etc/North Somerset Library Review.txt", SAMPLE_TEXT.encode(), "text/plain"),
        ("empty.txt", b"", "text/plain"),
        ("notes.txt", b"\x00\x01\x02 binary \xff\xfe" * 40, "text/plain"),
        ("setup.exe", b"MZ\x90\x00", "application/octet-stream"),
    ]).run()
    next(b for b in at.button if b.label == "Ingest 4 file(s)").click().run()
    assert not at.exception
    results = {r["file"]: r for r in at.dataframe[-1].value.to_dict("records")}
    assert results["North Somerset Library Review.txt"]["status"] == "ingested"
    assert {results[f]["status"] for f in ("empty.txt", "notes.txt", "setup.exe")} == {"failed"}
    problems = visible(at.error[0].value)
    assert "empty.txt is empty (0 bytes)" in problems
    assert "notes.txt looks like a binary file" in problems and "setup.exe: unsupported file type '.exe'" in problems
    assert list(library_table(at)["file"]) == ["North Somerset Library Review.txt"]
    # Kept under a name we chose, inside the uploads folder, whatever the browser sent.
    assert [p.name for p in settings.uploads_dir.iterdir()] == ["north-somerset-library-review.txt"]
    assert (settings.uploads_dir / "north-somerset-library-review.txt").read_text() == SAMPLE_TEXT
    assert at.file_uploader[0].value in (None, [])  # a fresh uploader for the next files

    select_row(at, 0)
    next(b for b in at.button if b.label == "Remove north-somerset-library-review").click().run()
    assert not at.exception
    assert "No reports yet" in at.info[0].value
    assert list(settings.uploads_dir.iterdir()) == []


def test_upload_over_the_size_limit_is_refused_with_the_limit(settings, store, monkeypatch):
    store.close()
    monkeypatch.setenv("REPORTS_QA_MAX_FILE_MB", "0.001")
    at = page(open_app(settings.data_dir, monkeypatch), "Library")
    at.file_uploader[0].set_value(("big.txt", SAMPLE_TEXT.encode() * 2, "text/plain")).run()
    next(b for b in at.button if b.label.startswith("Ingest")).click().run()
    assert "big.txt" in visible(at.error[0].value) and "limit" in at.error[0].value
    assert "No reports yet" in at.info[0].value  # nothing went in
    assert [r["status"] for r in at.dataframe[0].value.to_dict("records")] == ["failed"]


COUNCILS = ["Dorset Council", "Medway Council", "Swindon Borough Council", "Trafford Council", "Wiltshire Council"]


@pytest.fixture
def big_library(settings, store, make_report):
    """230 reports (46 per council; every seventh an inspection report), stored with made-up
    vectors: the Library page only lists them."""
    import random

    rng = random.Random(16)
    for i in range(230):
        council = COUNCILS[i % 5]
        inspection = i % 7 == 0
        report = make_report(SAMPLE_TEXT + f"\nAppendix {i}.\n", report_id=f"report-{i:03d}", council=council,
                             meeting=None if inspection else "Cabinet", date_kind="published" if inspection else "meeting",
                             title=f"Inspection of children's services {i}" if inspection else f"Budget {i}",
                             date=f"{2010 + i % 15}-0{1 + i % 9}-1{i % 10}")
        report.chunks = report.chunks[:1]  # one chunk each is enough to list them, and quicker to store
        store.put_report(report, [[rng.random() for _ in range(store.dimension)] for _ in report.chunks])
    store.close()
    return settings


def test_the_library_stays_usable_with_hundreds_of_reports(big_library, monkeypatch):
    at = page(open_app(big_library.data_dir, monkeypatch), "Library")
    assert len(library_table(at)) == 50
    assert "Reports 1–50 of 230." in at.caption[0].value
    pager = next(n for n in at.number_input if n.label == "Page (of 5)")
    pager.set_value(5).run()
    assert len(library_table(at)) == 30 and "Reports 201–230 of 230." in at.caption[0].value

    search = next(t for t in at.text_input if t.label == "Search")
    search.set_value("BUDGET 10").run()  # every word, in any case, in the title, council, file name or id
    found = library_table(at)
    assert len(found) == len([i for i in range(230) if i % 7 and "10" in f"{i:03d}"]) > 5
    assert all(t.startswith("Budget ") for t in found["title"])
    assert "(of 230 held)" in at.caption[0].value and not [n for n in at.number_input if n.label.startswith("Page")]
    next(t for t in at.text_input if t.label == "Search").set_value("").run()

    next(m for m in at.multiselect if m.label == "Council").set_value(["Medway Council"]).run()
    assert len(library_table(at)) == 46 and set(library_table(at)["council"]) == {"Medway Council"}
    kind = next(m for m in at.multiselect if m.label == "Kind")
    assert kind.options == ["Committee report", "Inspection report"]
    kind.set_value(["Inspection report"]).run()
    rows = library_table(at)
    assert sorted(rows["title"]) == sorted(f"Inspection of children's services {i}" for i in (21, 56, 91, 126, 161, 196))
    assert set(rows["kind"]) == {"Inspection report"}
    select_row(at, 0)
    assert "1. Summary of Report" in at.code[0].value
    # An inspection report is named by its publication, as answers name it, not as a meeting's paper.
    heading = next(visible(m.value) for m in at.markdown if visible(m.value).startswith("**Medway Council"))
    assert heading.startswith("**Medway Council, Ofsted report published ") and "meeting" not in heading


def test_an_upload_while_another_process_ingests_is_refused_and_says_so(empty_app, settings):
    """The store's write lock, held by another process, refuses the app's upload with that
    process named; nothing is added."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", ("import sys, time\nfrom reports_qa.settings import Settings\n"
         "from vectorstore.lock import store_lock\n"
         f"with store_lock(Settings(data_dir={str(settings.data_dir)!r}), 'ingest'):\n"
         "    print('locked', flush=True); time.sleep(120)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = page(empty_app, "Library")
        at.file_uploader[0].set_value([("Review.txt", SAMPLE_TEXT.encode(), "text/plain")]).run()
        next(b for b in at.button if b.label == "Ingest 1 file(s)").click().run()
        assert not at.exception
        said = visible(at.error[0].value)
        assert f"another ingest (process {holder.pid}) is writing to the store" in said
        assert "this upload was not started" in said
    finally:
        holder.kill()
        holder.wait()
    assert not list(settings.uploads_dir.glob("*")) if settings.uploads_dir.exists() else True


def test_evaluation_page_runs_a_question_set(app):
    page(app, "Evaluation")
    app.number_input[0].set_value(3).run()
    next(b for b in app.button if b.label == "Run evaluation").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    assert "reports-qa (extractive)" in table.columns
    assert set(table["metric"]) >= {"recall@k", "citation precision", "key-point recall", "abstention", "passed"}
    assert any("<svg" in m.value for m in app.markdown)


def test_evaluation_page_explains_a_bad_uploaded_question_set(app):
    page(app, "Evaluation")
    app.file_uploader[0].set_value(("mine.yaml", b"questions:\n  - id: q1\n    question: Who?\n", "text/yaml")).run()
    error = visible(app.error[0].value)
    assert "mine.yaml" in error and "q1" in error and "uploaded" not in error
    assert not [b for b in app.button if b.label == "Run evaluation"]


def test_an_llm_backend_streams_and_its_answer_is_verified(sample_store, monkeypatch):
    from tests.test_llm import StubServer

    stub = StubServer()
    stub.thread.start()
    stub.reply = "- Formalised matching of children with their long-term carers. [1]\n- It has 45 inspectors. [1]"
    try:
        monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", stub.model)
        at = open_app(sample_store, monkeypatch)
        at.sidebar.selectbox[0].set_value("openai").run()
        ask(at, "What needs to improve in North Somerset?")
        reply = at.chat_message[-1]
        assert "Formalised matching of children with their long-term carers." in visible(reply.markdown[0].value)
        assert "45 inspectors" not in visible(reply.markdown[0].value)
        assert any("removed" in c.value for c in reply.caption)
        assert not any("Draft" in c.value for c in reply.caption)  # the verified answer replaced it
    finally:
        stub.server.shutdown()
        stub.server.server_close()


def test_a_server_that_is_down_is_a_clear_error(sample_store, monkeypatch):
    monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", "local")
    at = open_app(sample_store, monkeypatch)
    at.sidebar.selectbox[0].set_value("openai").run()
    ask(at, "What needs to improve in Swindon?")
    assert "127.0.0.1:9" in visible(at.error[0].value)
    ask(at, "What needs to improve in Swindon?")  # the failed turn stays visible and does not break the next
    assert len(at.chat_message) == 4


def _listening(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def test_the_app_listens_on_this_machine_only_however_it_is_started(settings):
    """Started by hand (``streamlit run ui/app.py``, no address given), the app takes 127.0.0.1
    from the project's .streamlit/config.toml: nothing on the network can reach it."""
    from urllib.parse import urlsplit

    from tests.browser import served_app

    settings.data_dir.mkdir(parents=True)
    with served_app(settings.data_dir, address=None) as url:
        assert _listening(urlsplit(url).port) == {"0100007F"}  # 127.0.0.1, and no wildcard or IPv6 socket
