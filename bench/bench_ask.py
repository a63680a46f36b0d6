"""Ask latency: retrieval and answer writing timed separately over 36 real questions.

    .venv/bin/python -m bench.bench_ask [--backend extractive] [--repeat N] [--data-dir DIR]
                                        [--start-server | --chroma-url URL] [--torch-threads N|auto]
                                        [--json]

Ingests the sample reports into a temporary store (unless --data-dir names one that holds
reports), warms the model and the keyword index with one question, then asks every question
``--repeat`` times and prints p50/p95/max of the retrieve, generate and total timings the
Assistant reports, plus how many questions were answered. ``--start-server`` runs the same
against a ``chroma run`` server it starts in a temporary folder (``--chroma-url`` against one
already running), to compare embedded and server mode.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.threads import HELP, threads_arg, use_torch_threads
from eval.metrics import percentile
from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings

QUESTIONS = [
    "What needs to improve in North Somerset?",
    "What are North Somerset's areas of strength for children in care?",
    "What does North Somerset still have to do to improve leadership and management?",
    "What did North Somerset say about climate change?",
    "What are the financial implications of the North Somerset improvement plan?",
    "What risks does North Somerset identify?",
    "What were Southend's areas for improvement in 2019?",
    "What needs to improve in Southend?",
    "How did Southend do in 2016?",
    "How did Southend's grades change between 2016 and 2019?",
    "How many inspectors inspected Southend in 2016?",
    "What did the inspectors say about the front door in Southend?",
    "What is the Local Safeguarding Children Board's judgement in Southend in 2016?",
    "When does Southend have to submit its improvement plan?",
    "What did Ofsted say about care leavers in Southend in 2016?",
    "How good is adoption in Southend?",
    "What grade did Swindon get overall?",
    "How many inspectors visited Swindon?",
    "What needs to improve in Swindon?",
    "How were children in care and care leavers graded in Swindon?",
    "What did Ofsted say about leaders in Swindon?",
    "When was Swindon inspected?",
    "What are the recommendations to Swindon's Cabinet?",
    "What are the recommendations in the Southwark report?",
    "What grade did Southwark get?",
    "What did Southwark's committee say about adoption?",
    "What are the legal implications in Southwark?",
    "What did Ofsted say about Essex?",
    "What needs to improve in Kent?",
    "Which councils were judged good?",
    "Which councils require improvement?",
    "What do the reports say about missing children?",
    "What do the reports say about social worker caseloads?",
    "What is the budget for road repairs in Swindon?",
    "How did North Somerset do?",
    "What are the strengths of Southend's early help?",
]


def run(data_dir: Path | None, backend: str, repeat: int) -> dict:
    import torch

    from assistant import Assistant
    from vectorstore.indexer import Indexer

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=data_dir or Path(tmp), backend=backend)
        ingest_s = 0.0
        indexer = Indexer.from_settings(settings)
        with indexer.store as store:
            if not store.list_reports():
                t0 = time.perf_counter()
                indexer.ingest_paths([SAMPLE_REPORTS_DIR])
                ingest_s = time.perf_counter() - t0
            assistant = Assistant(settings, store, indexer.embedder)
            t0 = time.perf_counter()
            assistant.ask("warm up: what needs to improve?")
            warm_ms = (time.perf_counter() - t0) * 1000
            rows = []
            for _ in range(repeat):
                for question in QUESTIONS:
                    answer = assistant.ask(question)
                    rows.append({"question": question, "answered": answer.answered, **answer.timings_ms})
    figures = {
        key: {
            "p50": statistics.median(r[key] for r in rows),
            "p95": percentile([r[key] for r in rows], 0.95),
            "max": max(r[key] for r in rows),
        }
        for key in ("retrieve", "generate", "total")
    }
    return {
        "backend": backend,
        "torch_threads": torch.get_num_threads(),
        "load1": round(os.getloadavg()[0], 1),
        "questions": len(QUESTIONS),
        "asks": len(rows),
        "answered": sum(r["answered"] for r in rows[: len(QUESTIONS)]),
        "ingest_s": round(ingest_s, 1),
        "first_ask_ms": round(warm_ms, 1),
        "timings_ms": {k: {s: round(v, 1) for s, v in f.items()} for k, f in figures.items()},
        "slowest": sorted(rows, key=lambda r: -r["total"])[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="extractive", choices=("extractive", "llamacpp", "openai"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, help="a store that already holds reports (default: a fresh one)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--chroma-url", help="ask over this Chroma server (sets REPORTS_QA_CHROMA_URL)")
    parser.add_argument("--start-server", action="store_true", help="start a chroma run server for the run")
    parser.add_argument("--torch-threads", type=threads_arg, help=HELP)
    args = parser.parse_args()
    logs.configure(0)
    use_torch_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if args.start_server:
            from tests.chroma_server import ChromaServer

            args.chroma_url = stack.enter_context(ChromaServer(Path(tmp) / "server")).url
        if args.chroma_url:
            os.environ["REPORTS_QA_CHROMA_URL"] = args.chroma_url
            os.environ.setdefault("REPORTS_QA_COLLECTION", f"bench{os.getpid()}")
        result = run(args.data_dir, args.backend, args.repeat)
    result["store"] = args.chroma_url or "embedded"
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"store {result['store']}, backend {result['backend']}: {result['asks']} asks of {result['questions']} questions "
          f"({result['answered']} answered); first ask {result['first_ask_ms']} ms; "
          f"torch threads {result['torch_threads']}, load1 {result['load1']}")
    print(f"{'ms':<10}{'p50':>10}{'p95':>10}{'max':>10}")
    for key, f in result["timings_ms"].items():
        print(f"{key:<10}{f['p50']:>10}{f['p95']:>10}{f['max']:>10}")
    for r in result["slowest"]:
        print(f"slow: {r['total']:.0f} ms  {r['question']}")


if __name__ == "__main__":
    main()
