"""A real ``chroma run`` server on 127.0.0.1, started and stopped by PID; used by tests and bench/.

Optionally fronted by :class:`TokenGate`, a local stand-in for a hosted Chroma's token check:
the open-source ``chroma run`` accepts any request, so without it nothing would prove that the
client sends its token or that a wrong one fails clearly.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from reports_qa.local_server import free_port, stop, wait_until_serving


def _chroma_cli() -> str:
    found = Path(sys.executable).with_name("chroma")
    return str(found) if found.exists() else (shutil.which("chroma") or "chroma")


class ChromaServer:
    """``chroma run --path DIR --host 127.0.0.1 --port P``; restartable on the same port and data."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = Path(path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = self.path.parent / f"chroma-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [_chroma_cli(), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        wait_until_serving(self.proc, f"{self.url}/api/v2/heartbeat", name="chroma run", log_path=self.log, timeout=timeout)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TokenGate:
    """A reverse proxy that forwards only requests bearing ``token`` (``Authorization: Bearer``
    or ``X-Chroma-Token``, as Chroma's client sends it); anything else gets 401. With no token
    it forwards everything; ``delay`` (seconds) makes it a slow server."""

    def __init__(self, upstream_port: int, token: str | None = None) -> None:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                time.sleep(gate.delay)
                sent = self.headers.get("Authorization", "").removeprefix("Bearer ").strip() or self.headers.get("X-Chroma-Token", "")
                if token is not None and sent != token:
                    gate.refused += 1
                    body = b'{"error":"Unauthorized","message":"missing or wrong token"}'
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for k, v in reply.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.refused = 0
        self.delay = 0.0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TokenGate:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
