"""Embedding runtimes side by side: raw encode speed, agreement with torch, query latency.

    .venv/bin/python -m bench.bench_embed [--corpus DIR ...] [--runtimes R ...] [--torch-threads T ...]
                                          [--sample N] [--repeat N] [--batch-size B] [--json]

The corpus (default: the five samples and, when present, the 160 Ofsted PDFs of
``../shared/ofsted/reports``) is parsed once and its texts cached in
``DATA_DIR/bench/texts-<corpus>.json`` with each file's read (pypdf) and parse seconds: exactly
what ingest embeds, the chunks (context line and text) and the units (sentences, list items,
headings). A fixed random sample of those texts is then encoded by every runtime at every thread
count, repeat by repeat, interleaved, so the machine's load touches them alike; each row is the
median of its repeats, and its ratio is to torch at the same thread count. Also printed: each
runtime's cosine agreement with torch's vectors over the sample (chunks and units apart), and
the p50/p95 of embedding one short question.

Each row also gives the rate the runtime reached in the model's own matrix-product FLOPs
(from its config and the sample's token counts), beside a ceiling measured first: the best rate
torch's GEMM reaches here at the model's shapes, fp32 and bf16, at the same thread count. No
runtime computing in fp32 can encode faster than its matrix products alone would run, so
``fp32 ceiling / torch's rate`` bounds what any fp32 runtime can gain on this CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.threads import HELP, threads_arg, use_torch_threads
from reports_qa import logs
from reports_qa.settings import PROJECT_ROOT, SAMPLE_REPORTS_DIR, Settings

OFSTED_REPORTS = PROJECT_ROOT.parent / "shared" / "ofsted" / "reports"
QUESTIONS = [
    "What needs to improve in North Somerset?",
    "How many inspectors visited Swindon?",
    "What did Ofsted say about care leavers in Southend in 2016?",
    "What grade did Swindon get overall?",
    "What are the financial implications of the improvement plan?",
    "How good is adoption in Dorset?",
    "What did the inspectors say about the front door?",
    "Which councils were judged inadequate?",
]


def corpus_texts(folders: list[Path], settings: Settings) -> dict:
    """Every file's chunk and unit texts with its read and parse seconds, parsed once and cached."""
    from ingest.loaders import IngestError, iter_report_files, load_document
    from vectorstore.embeddings import Embedder
    from vectorstore.indexer import Indexer

    files = [path for path, error in iter_report_files(folders) if error is None]
    key = hashlib.sha256("\n".join(f"{p}\t{p.stat().st_size}\t{p.stat().st_mtime_ns}" for p in files).encode())
    cache = settings.data_dir / "bench" / f"texts-{key.hexdigest()[:12]}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    indexer = Indexer(None, Embedder.load(settings.embedding_model), settings)  # type: ignore[arg-type]
    reports = []
    for path in files:
        started = time.perf_counter()
        try:
            doc = load_document(path)
        except IngestError:
            continue
        read = time.perf_counter()
        report = indexer.parse(doc)
        reports.append({"file": str(path), "read_s": read - started, "parse_s": time.perf_counter() - read,
                        "chunks": [c.embed_text for c in report.chunks],
                        "units": [u.text_in(report.text) for u in report.units]})
    data = {"files": len(files), "reports": reports}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(data))
    return data


def sample_texts(data: dict, n: int, seed: int = 0) -> tuple[list[str], list[bool]]:
    """``n`` texts drawn without replacement from the corpus (chunks and units in their corpus
    proportion), and whether each is a chunk."""
    pool = [(t, True) for r in data["reports"] for t in r["chunks"]] + [(t, False) for r in data["reports"] for t in r["units"]]
    rng = np.random.default_rng(seed)
    picked = [pool[i] for i in rng.choice(len(pool), min(n, len(pool)), replace=False)]
    return [t for t, _ in picked], [c for _, c in picked]


def model_flops(embedder, texts: list[str]) -> float:
    """Matrix-product FLOPs of encoding ``texts`` with a BERT-style encoder, from its config: a
    token costs four hidden x hidden projections and the two feed-forward layers in each layer,
    and attention's two token x token products grow with the text's length (its tokens, cut
    at the model's window)."""
    config = embedder.model[0].auto_model.config
    hidden, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    tokens = np.minimum(np.array(embedder.count_tokens_batch(texts), dtype=np.float64), embedder.max_tokens)
    return float(np.sum(layers * (2 * tokens * (4 * hidden * hidden + 2 * hidden * ffn) + 4 * tokens * tokens * hidden)))


def gemm_ceiling(embedder, rows: int = 256, seconds: float = 1.0) -> dict[str, float]:
    """The best GFLOP/s torch's matrix product reaches at the model's shapes (``rows`` tokens
    times each weight matrix), fp32 and bf16, at this process's thread count."""
    import torch

    config = embedder.model[0].auto_model.config
    hidden, ffn = config.hidden_size, config.intermediate_size
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        best = 0.0
        for k, n in ((hidden, hidden), (hidden, ffn), (ffn, hidden)):
            a, b = torch.randn(rows, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            for _ in range(5):
                a @ b
            done, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds / 3:
                a @ b
                done += 1
            best = max(best, 2 * rows * k * n * done / (time.perf_counter() - started) / 1e9)
        out[name] = best
    return out


def load(runtime: str, threads: str | None, settings: Settings):
    from vectorstore.embeddings import Embedder

    use_torch_threads(threads)
    fresh = Settings(data_dir=settings.data_dir)
    return Embedder.from_settings(fresh, runtime=runtime)


def agreement(vectors: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> dict:
    cos = (vectors * reference).sum(axis=1)
    out = {}
    for name, rows in (("chunks", mask), ("units", ~mask)):
        if rows.any():
            c = cos[rows]
            out[name] = {"mean": float(c.mean()), "p1": float(np.percentile(c, 1)), "min": float(c.min())}
    return out


def query_latency(embedder, repeat: int = 5) -> dict:
    embedder.embed_query("warm up")
    times = []
    for _ in range(repeat):
        for q in QUESTIONS:
            started = time.perf_counter()
            embedder.embed_query(q)
            times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", help="folders or files (default: the samples and the Ofsted PDFs)")
    parser.add_argument("--runtimes", nargs="+", default=["torch", "torch-bf16", "onnx", "onnx-int8", "openvino"])
    parser.add_argument("--torch-threads", type=threads_arg, nargs="+", default=["1"], help=HELP)
    parser.add_argument("--sample", type=int, default=600, help="texts timed per run (default 600)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data-dir", type=Path, help="where the text cache and exported models live")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(0)
    from vectorstore.embeddings import runtime_installed

    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    folders = args.corpus or [SAMPLE_REPORTS_DIR, *([OFSTED_REPORTS] if OFSTED_REPORTS.is_dir() else [])]
    data = corpus_texts(folders, settings)
    texts, is_chunk = sample_texts(data, args.sample)
    mask = np.array(is_chunk)
    runtimes = [r for r in args.runtimes if runtime_installed(r)]
    combos = [(r, t) for t in args.torch_threads for r in runtimes]
    seconds: dict[tuple, list[float]] = {c: [] for c in combos}
    vectors: dict[tuple, np.ndarray] = {}
    for _ in range(args.repeat):
        for combo in combos:
            embedder = load(*combo, settings)
            started = time.perf_counter()
            vectors[combo] = np.array(embedder.embed(texts, batch_size=args.batch_size), dtype=np.float32)
            seconds[combo].append(time.perf_counter() - started)
    total = sum(len(r["chunks"]) + len(r["units"]) for r in data["reports"])
    ceilings = {t: gemm_ceiling(load("torch", t, settings)) for t in args.torch_threads}
    flops = model_flops(load("torch", args.torch_threads[0], settings), texts)
    rows = []
    for runtime, threads in combos:
        embedder = load(runtime, threads, settings)
        median = statistics.median(seconds[(runtime, threads)])
        torch_median = statistics.median(seconds[("torch", threads)]) if ("torch", threads) in seconds else None
        rows.append({
            "runtime": embedder.runtime, "asked": runtime, "threads": embedder.threads, "device": embedder.device,
            "seconds": median, "runs": seconds[(runtime, threads)], "texts_per_s": len(texts) / median,
            "vs_torch": torch_median / median if torch_median else None,
            "corpus_encode_s": median * total / len(texts),
            "gflops": flops / median / 1e9,
            "agreement": agreement(vectors[(runtime, threads)], vectors[("torch", threads)], mask)
            if ("torch", threads) in vectors else None,
            "query": query_latency(embedder),
        })
        if runtime == "torch":
            ceilings[threads]["fp32_max_vs_torch"] = ceilings[threads]["fp32"] / rows[-1]["gflops"]
    result = {
        "reports": len(data["reports"]), "chunks": sum(len(r["chunks"]) for r in data["reports"]),
        "units": sum(len(r["units"]) for r in data["reports"]),
        "read_s": sum(r["read_s"] for r in data["reports"]), "parse_s": sum(r["parse_s"] for r in data["reports"]),
        "sample": len(texts), "sample_chunks": int(mask.sum()), "load1": os.getloadavg()[0],
        "model_tflop": flops / 1e12, "gemm_ceiling_gflops": ceilings, "rows": rows,
    }

    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"corpus: {result['reports']} reports, {result['chunks']} chunks + {result['units']} units; "
          f"read {result['read_s']:.0f} s, parse {result['parse_s']:.0f} s (once, cached); "
          f"timed: {len(texts)} texts ({result['sample_chunks']} chunks), median of {args.repeat}, load1 {result['load1']:.1f}")
    for threads, ceiling in ceilings.items():
        bound = f"; an fp32 runtime can reach at most {ceiling['fp32_max_vs_torch']:.2f}x torch" if "fp32_max_vs_torch" in ceiling else ""
        print(f"GEMM ceiling at the model's shapes, {threads} thread(s): fp32 {ceiling['fp32']:.0f} GFLOP/s, "
              f"bf16 {ceiling['bf16']:.0f}{bound} (the sample is {flops / 1e12:.2f} TFLOP of matrix products)")
    print(f"{'runtime':>10} {'threads':>7} {'s':>7} {'texts/s':>8} {'x torch':>7} {'GFLOP/s':>7} {'corpus s':>9} "
          f"{'cos chunks mean/p1/min':>24} {'cos units mean/p1/min':>24} {'query p50/p95 ms':>17}")
    for r in rows:
        cells = []
        for kind in ("chunks", "units"):
            a = (r["agreement"] or {}).get(kind)
            cells.append(f"{a['mean']:.4f}/{a['p1']:.4f}/{a['min']:.4f}" if a else "-")
        ratio = f"{r['vs_torch']:.2f}" if r["vs_torch"] else "-"
        print(f"{r['runtime']:>10} {r['threads']:>7} {r['seconds']:>7.1f} {r['texts_per_s']:>8.1f} {ratio:>7} "
              f"{r['gflops']:>7.0f} {r['corpus_encode_s']:>9.0f} {cells[0]:>24} {cells[1]:>24} "
              f"{r['query']['p50_ms']:>8.1f}/{r['query']['p95_ms']:.1f}")


if __name__ == "__main__":
    main()
