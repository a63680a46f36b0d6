"""Serve the real app and drive it with Debian's Chromium through Playwright (no browser download).

Used by the end-to-end test and by ``bench/bench_app.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reports_qa.local_server import free_port, stop, wait_until_serving
from reports_qa.settings import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("REPORTS_QA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (scripts/setup.sh test installs Debian's chromium when run as root)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def served_app(data_dir: Path, *, timeout: float = 180.0, env: dict[str, str] | None = None,
               address: str | None = "127.0.0.1") -> Iterator[str]:
    """``streamlit run ui/app.py`` over ``data_dir`` on a free port; yields its URL once healthy.

    ``address=None`` leaves the address to the project's ``.streamlit/config.toml``, as a user
    starting the app by hand would."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "ui" / "app.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        *(["--server.address", address] if address else []),
    ]
    full_env = {**os.environ, "REPORTS_QA_DATA_DIR": str(data_dir), **(env or {})}
    log_path = data_dir / "streamlit.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{url}/_stcore/health", name="streamlit", log_path=log_path, timeout=timeout,
                           expect=b"ok", interval=0.5)
        yield url
    finally:
        stop(proc)


@contextmanager
def chromium(width: int = 1400, height: int = 900):
    """A headless page in Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def ask(page, question: str, timeout_ms: float = 120_000) -> float:
    """Type a question, press Enter; seconds until the answer's first text shows in the page."""
    before = page.locator("[data-testid=stChatMessage]").count()
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    started = time.perf_counter()
    box.press("Enter")
    answer = page.locator("[data-testid=stChatMessage]").nth(before + 1).locator("[data-testid=stMarkdownContainer]").first
    answer.wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_function(
        "([n]) => { const m = document.querySelectorAll('[data-testid=stChatMessage]')[n];"
        " const t = m && m.querySelector('[data-testid=stMarkdownContainer]'); return t && t.innerText.trim().length > 0; }",
        arg=[before + 1], timeout=timeout_ms,
    )
    return time.perf_counter() - started
