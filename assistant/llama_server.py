"""llama.cpp's OpenAI-compatible server on a local GGUF, for the openai backend to talk to.

The benchmark and the real-model tests use it; so can a user without Ollama or vLLM:
``python -m llama_cpp.server --model M.gguf --host 127.0.0.1 ...`` is what it runs.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from assistant.backend import BackendError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
            deadline = time.monotonic() + wait_s
            while True:
                if proc.poll() is not None:
                    raise BackendError(f"llama.cpp server exited: {log_path.read_text(errors='replace')[-2000:]}")
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(f"{base}/models", timeout=2).read()
                    break
                if time.monotonic() > deadline:
                    raise BackendError(f"llama.cpp server not up in {wait_s:.0f} s: "
                                       f"{log_path.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
