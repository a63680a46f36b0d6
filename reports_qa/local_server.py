"""A local server in a child process: a free port, waiting until it answers, stopping it.

llama.cpp's server (``assistant.llama_server``), the served app in the browser tests and the
``chroma run`` the server-mode tests start all go through here.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path


class ServerFailed(RuntimeError):
    """The server exited, or did not answer in time; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


def wait_until_serving(
    proc: subprocess.Popen, url: str, *, name: str, log_path: Path, timeout: float,
    expect: bytes | None = None, interval: float = 0.2,
) -> None:
    """Poll ``url`` until it answers (with ``expect``, if given); raise ServerFailed if ``proc``
    exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ServerFailed(f"{name} exited with {proc.returncode}: {_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if expect is None or response.read() == expect:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerFailed(f"{name} did not answer {url} within {timeout:.0f} s: {_tail(log_path)}")
        time.sleep(interval)


def stop(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
