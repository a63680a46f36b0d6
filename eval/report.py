"""Writing a run down: ``results.json`` for scripts, ``report.html`` for people.

The HTML is one self-contained file (inline SVG bar chart, no scripts, nothing fetched), so it
opens on an air-gapped machine and can be attached to a committee paper.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from eval.metrics import METRICS
from eval.runner import EvalRun

LABELS = {
    "recall": "recall@k",
    "mrr": "MRR",
    "citation_precision": "citation precision",
    "citation_support": "citation support",
    "key_point_recall": "key-point recall",
    "abstention": "abstention",
}
COLOURS = ("#1f5f8b", "#c8702a", "#4c8c4a", "#8c4a7a")


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def chart(runs: Sequence[EvalRun], metric: str = "key_point_recall") -> str:
    """Grouped horizontal bars: ``metric`` per question type, one bar per system."""
    types = sorted({t for r in runs for t in r.by_type})
    bar, gap, left, width = 14, 10, 110, 360
    height = len(types) * (bar * len(runs) + gap) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" height="{height}" role="img" '
             f'aria-label="{LABELS[metric]} by question type">']
    y = 10
    for t in types:
        parts.append(f'<text x="{left - 8}" y="{y + bar * len(runs) / 2 + 4}" text-anchor="end" font-size="12">{html.escape(t)}</text>')
        for i, run in enumerate(runs):
            value = run.by_type.get(t, {}).get(metric)
            w = 0 if value is None else value * width
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{COLOURS[i % len(COLOURS)]}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 4}" font-size="11">{_fmt(value)}</text>')
            y += bar
        y += gap
    legend_x = left
    for i, run in enumerate(runs):
        parts.append(f'<rect x="{legend_x}" y="{y + 4}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{y + 13}" font-size="12">{html.escape(run.system)}</text>')
        legend_x += 200
    parts.append("</svg>")
    return "".join(parts)


def _summary_table(runs: Sequence[EvalRun]) -> str:
    summaries = [r.summary for r in runs]

    def row(label: str, cells: list[str]) -> str:
        return f"<tr><td>{label}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    rows = [row("questions passed", [f"{s['passed']} / {s['questions']}" for s in summaries])]
    rows += [row(LABELS[m], [_fmt(s[m]) for s in summaries]) for m in METRICS]
    for stage in ("retrieve", "generate", "total"):
        rows.append(row(f"{stage} ms p50 / p95",
                        [f"{s['latency_ms'][stage]['p50']:.0f} / {s['latency_ms'][stage]['p95']:.0f}" for s in summaries]))
    head = "".join(f"<th>{html.escape(r.system)}</th>" for r in runs)
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _type_table(run: EvalRun) -> str:
    head = "".join(f"<th>{LABELS[m]}</th>" for m in METRICS)
    rows = "".join(
        f"<tr><td>{html.escape(t)}</td><td>{s['passed']} / {s['questions']}</td>"
        + "".join(f"<td>{_fmt(s[m])}</td>" for m in METRICS) + "</tr>"
        for t, s in run.by_type.items()
    )
    return f"<table><tr><th>type</th><th>passed</th>{head}</tr>{rows}</table>"


def _failures(run: EvalRun) -> str:
    items = []
    for r in run.failures:
        why = []
        if not r.abstention:
            why.append("answered when it should not have" if r.answered else "did not answer")
        if r.missing_key_points:
            why.append("missing: " + "; ".join(r.missing_key_points))
        if r.bad_citations:
            why.append(f"wrong citations: {r.bad_citations}")
        if r.recall == 0:
            why.append("no evidence retrieved")
        cites = "".join(
            f"<li>[{c['marker']}] {html.escape(c['council'] or '')} — {html.escape(c['section_path'])}: "
            f"<q>{html.escape(c['quote'][:300])}</q></li>"
            for c in r.citations
        )
        items.append(
            f"<details><summary><b>{html.escape(r.id)}</b> ({html.escape(r.type)}) {html.escape(r.question)} — "
            f"{html.escape(', '.join(why))}</summary><pre>{html.escape(r.answer)}</pre><ol>{cites}</ol></details>"
        )
    return "".join(items) or "<p>None.</p>"


def write_report(runs: Sequence[EvalRun], out_dir: Path) -> tuple[Path, Path]:
    """``out_dir/results.json`` and ``out_dir/report.html``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    results.write_text(json.dumps([r.to_dict() for r in runs], indent=2, ensure_ascii=False), encoding="utf-8")
    sections = "".join(
        f"<h2>{html.escape(r.system)}: by question type</h2>{_type_table(r)}"
        f"<h3>Questions that failed ({len(r.failures)})</h3>{_failures(r)}"
        for r in runs
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reports-qa evaluation</title>
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}}
td:first-child,th:first-child{{text-align:left}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}}
details{{margin:.4rem 0}}</style></head><body>
<h1>reports-qa evaluation: {html.escape(", ".join(runs[0].sets))}</h1>
<p>{len(runs[0].results)} questions. Metrics are defined in <code>eval/metrics.py</code>.</p>
{_summary_table(runs)}
<h2>Key-point recall by question type</h2>{chart(runs)}
{sections}
</body></html>
"""
    report = out_dir / "report.html"
    report.write_text(page, encoding="utf-8")
    return results, report
