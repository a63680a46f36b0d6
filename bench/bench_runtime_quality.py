"""Retrieval quality per embedding runtime: evidence recall and MRR, set by set, question by question.

    .venv/bin/python -m bench.bench_runtime_quality [--runtimes R ...] [--sets FILE ...]
                                                    [--data-dir DIR] [--json]

For each runtime, builds a store of the five samples and the fixed Ofsted subset the reader
sets are written over (``tests/ofsted.py``; skipped where ``../shared/ofsted`` is absent) under
``DATA_DIR/runtime-quality/<runtime>`` (kept, so a rerun only asks), then asks every question
of every set in ``eval/questions`` through ``eval.runner.evaluate`` with the extractive
backend. Prints mean recall and MRR per set and runtime, how many answers are word for word
torch's, and every question where a runtime's recall or MRR differs from torch's: the
questions it loses and gains.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reports_qa import logs
from reports_qa.settings import PROJECT_ROOT, SAMPLE_REPORTS_DIR, Settings

SETS_DIR = PROJECT_ROOT / "eval" / "questions"


def corpus() -> list[Path]:
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    from ofsted import REPORTS_DIR, SUBSET  # the subset the reader sets are written over

    paths = [SAMPLE_REPORTS_DIR]
    if REPORTS_DIR.is_dir():
        paths += [REPORTS_DIR / name for name in SUBSET]
    return paths


def measure(runtime: str, sets: list, root: Path) -> dict:
    from assistant import Assistant
    from eval.runner import evaluate
    from vectorstore.indexer import Indexer

    settings = Settings(data_dir=root / runtime, embedding_backend=runtime, backend="extractive")
    indexer = Indexer.from_settings(settings)
    with indexer.store:
        failed = [r for r in indexer.ingest_paths(corpus()) if not r.ok]
    with Assistant.from_settings(settings) as assistant:
        assert assistant.embedder.runtime == runtime, assistant.embedder.describe()
        out = {}
        for question_set in sets:
            run = evaluate([question_set], assistant)[0]
            out[question_set.name] = {r.id: {"recall": r.recall, "mrr": r.mrr, "answer": r.answer} for r in run.results}
    return {"failed": [r.source for r in failed], "sets": out}


def mean(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtimes", nargs="+", default=["torch", "torch-bf16", "onnx", "onnx-int8", "openvino"])
    parser.add_argument("--sets", type=Path, nargs="+", help="question sets (default: every set in eval/questions)")
    parser.add_argument("--data-dir", type=Path, help="root of the per-runtime stores (default DATA_DIR/runtime-quality)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)
    from eval.questionset import load_question_set
    from vectorstore.embeddings import runtime_installed

    sets = [load_question_set(p) for p in (args.sets or sorted(SETS_DIR.glob("*.yaml")))]
    root = args.data_dir or Settings().data_dir / "runtime-quality"
    runtimes = [r for r in args.runtimes if runtime_installed(r)]
    results = {runtime: measure(runtime, sets, root) for runtime in runtimes}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'set':>16} {'questions':>9} " + " ".join(f"{r + ' recall/MRR':>24}" for r in runtimes))
    for s in sets:
        cells = []
        for runtime in runtimes:
            rows = results[runtime]["sets"][s.name].values()
            rec, mrr = mean([r["recall"] for r in rows]), mean([r["mrr"] for r in rows])
            cells.append(f"{rec:.3f}/{mrr:.3f}" if rec is not None else "-")
        print(f"{s.name:>16} {len(s.questions):>9} " + " ".join(f"{c:>24}" for c in cells))
    reference = results.get("torch")
    if reference is None:
        return
    for runtime in runtimes[1:] if runtimes[0] == "torch" else runtimes:
        lost = gained = same = asked = 0
        print(f"\n{runtime} against torch, questions whose recall or MRR differ:")
        for s in sets:
            for qid, theirs in results[runtime]["sets"][s.name].items():
                ours = reference["sets"][s.name][qid]
                asked += 1
                same += ours["answer"] == theirs["answer"]
                if (ours["recall"], ours["mrr"]) == (theirs["recall"], theirs["mrr"]):
                    continue
                lost += bool((ours["recall"] or 0) > 0 and not theirs["recall"])
                gained += bool((theirs["recall"] or 0) > 0 and not ours["recall"])
                print(f"  {s.name}/{qid}: recall {ours['recall']} -> {theirs['recall']}, MRR {ours['mrr']} -> {theirs['mrr']}")
        print(f"  evidence found by torch and missed: {lost}; missed by torch and found: {gained}")
        print(f"  answers word for word torch's: {same} of {asked}")


if __name__ == "__main__":
    main()
