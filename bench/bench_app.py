"""Browser latency: from pressing Enter in the app's chat box to the answer's first text.

    .venv/bin/python -m bench.bench_app [--questions N] [--data-dir DIR] [--json]

Serves ``ui/app.py`` with streamlit over the sample reports (ingested into a temporary store
unless --data-dir holds reports), drives it in Debian's headless Chromium with Playwright,
asks the first N questions of ``bench_ask`` in one conversation (a new one every 6 questions,
as a reader might), and prints p50/p95/max. This is what a reader waits: the assistant's own
time plus Streamlit's rerun and the browser's rendering.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_ask import QUESTIONS
from eval.metrics import percentile
from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings
from tests import browser


def run(data_dir: Path | None, n: int) -> dict:
    from vectorstore.indexer import Indexer

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = data_dir or Path(tmp)
        indexer = Indexer.from_settings(Settings(data_dir=data_dir))
        with indexer.store as store:
            if not store.list_reports():
                indexer.ingest_paths([SAMPLE_REPORTS_DIR])
        t0 = time.perf_counter()
        with browser.served_app(data_dir) as url, browser.chromium() as page:
            page.goto(url)
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=180_000)
            ready_s = time.perf_counter() - t0
            seconds = []
            for i, question in enumerate(QUESTIONS[:n]):
                if i and i % 6 == 0:
                    page.get_by_role("button", name="New conversation").click()
                    page.wait_for_function("() => document.querySelectorAll('[data-testid=stChatMessage]').length === 0")
                seconds.append(browser.ask(page, question))
    return {
        "questions": len(seconds),
        "app_ready_s": round(ready_s, 2),
        "first_question_s": round(seconds[0], 3),
        "first_text_s": {
            "p50": round(statistics.median(seconds), 3),
            "p95": round(percentile(seconds, 0.95), 3),
            "max": round(max(seconds), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="how many questions to ask")
    parser.add_argument("--data-dir", type=Path, help="a store that already holds reports (default: a fresh one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)
    if why := browser.missing():
        parser.error(why)
    result = run(args.data_dir, args.questions)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    f = result["first_text_s"]
    print(f"app ready in the browser after {result['app_ready_s']} s (streamlit start, model load)")
    print(f"{result['questions']} questions, Enter to first answer text: first {result['first_question_s']} s, "
          f"p50 {f['p50']} s, p95 {f['p95']} s, max {f['max']} s")


if __name__ == "__main__":
    main()
