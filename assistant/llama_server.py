"""llama.cpp's OpenAI-compatible server on a local GGUF, for the openai backend to talk to.

The benchmark and the real-model tests use it; so can a user without Ollama or vLLM:
``python -m llama_cpp.server --model M.gguf --host 127.0.0.1 ...`` is what it runs.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from assistant.backend import BackendError
from reports_qa.local_server import ServerFailed, free_port, stop, wait_until_serving


@contextlib.contextmanager
def llama_server(
    model_path: Path, *, threads: int = 2, n_ctx: int = 4096, alias: str = "local", wait_s: float = 120
) -> Iterator[str]:
    """Serve ``model_path`` on 127.0.0.1 until the block ends; yields the base URL (``.../v1``)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:  # a file, not a pipe: model loading logs more than a pipe holds
            proc = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", alias,
                 "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads), "--n_ctx", str(n_ctx)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}/v1"
        try:
            try:
                wait_until_serving(proc, f"{base}/models", name="llama.cpp server", log_path=log_path, timeout=wait_s)
            except ServerFailed as exc:
                raise BackendError(str(exc)) from None
            yield base
        finally:
            stop(proc, grace=10)
