"""Grades and structure read from real Ofsted PDFs, against an independent scraper's table.

    .venv/bin/python -m bench.bench_judgements [--reports DIR] [--csv FILE] [--json] [--only TEXT]

Parses every PDF under ``--reports`` (default ``../shared/ofsted/reports``) the way ingest does,
without the embedding model (chunks are measured with the model's tokenizer alone), and
compares the current-inspection grades read from each report with ``judgements.csv`` (its five
ILACS columns):

- **coverage**: of the grades the CSV states, the share the product read a grade for;
- **agreement**: of those, the share with the same grade; every disagreement is listed with the
  product's quote, so it can be checked against the report (where they differ, the report is
  right: the CSV comes from a scraper);
- reports after the April 2026 reform, for which the CSV says ``not_reported_post_reform``:
  whether the product read no overall grade and flagged it (``ReportMeta.no_overall_grade``).

Also: the kind of inspection, dates and lead inspector against the CSV's, and how many chunks
and judgement quotes hold a line of page furniture (a running header or footer), found here
independently of the product's own detector: a line among the first or last three of a page
that recurs there, digits aside, on at least three pages and a quarter of them.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from ingest.loaders import load_document
from ingest.models import LoadedDocument, ParsedReport
from ingest.parse import parse_document
from reports_qa.settings import PROJECT_ROOT


OFSTED_DIR = PROJECT_ROOT.parent / "shared" / "ofsted"
# The CSV's grade columns and the product's areas they are.
CSV_AREAS = {
    "overall_effectiveness_grade": "overall",
    "impact_of_leaders_grade": "leadership",
    "help_and_protection_grade": "help_protection",
    "in_care_grade": "in_care",
    "care_leavers_grade": "care_leavers",
}
CSV_GRADES = {
    "outstanding": "Outstanding",
    "good": "Good",
    "requires improvement": "Requires improvement to be good",
    "requires improvement to be good": "Requires improvement to be good",
    "inadequate": "Inadequate",
}
NOT_REPORTED_POST_REFORM = "not_reported_post_reform"


@dataclass(frozen=True)
class Expected:
    """One row of judgements.csv."""

    path: str  # relative to the reports folder: "<urn>_<authority>/<file>"
    framework: str  # "standard", "short", "" (SIF), or a note
    published: str | None
    lead_inspector: str
    start: str | None
    end: str | None
    grades: dict[str, str]  # area -> the CSV's raw value


@dataclass
class Outcome:
    """One stated grade of one report, compared."""

    path: str
    kind: str
    area: str
    expected: str  # the CSV's value
    got: list[str]  # the product's current grades for the area (normally one)
    status: str  # "agree", "disagree", "missed", "no overall (reform)", "overall read after reform",
    # or "combined in the report" (a care leavers grade the CSV states where the report judges
    # children in care and care leavers as one)
    quote: str = ""


@dataclass
class ReportStats:
    path: str
    kind: str | None = None
    error: str | None = None
    chunks: int = 0
    chunks_with_furniture: int = 0
    quotes_with_furniture: int = 0
    seconds: float = 0.0
    meta_mismatches: list[str] = field(default_factory=list)


def _csv_date(value: str) -> str | None:
    for fmt in ("%d/%m/%Y", "%d/%m/%y"):
        try:
            return datetime.strptime(value.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def load_expected(csv_path: Path) -> dict[str, Expected]:
    """judgements.csv by report path (``<urn>_<authority>/<pdf file name>``)."""
    with Path(csv_path).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        f"{r['urn']}_{r['local_authority']}/{r['pdf_filename']}": Expected(
            path=f"{r['urn']}_{r['local_authority']}/{r['pdf_filename']}",
            framework=r["inspection_framework"].strip(),
            published=_csv_date(r["publication_date"]),
            lead_inspector=r["inspector_name"].strip(),
            start=_csv_date(r["inspection_start_date"]),
            end=_csv_date(r["inspection_end_date"]),
            grades={area: r[column].strip().lower() for column, area in CSV_AREAS.items()},
        )
        for r in rows
    }


@lru_cache(maxsize=1)
def word_pieces() -> Callable[[str], int]:
    """The embedding model's tokenizer alone, as ingest counts chunk sizes: no model weights
    loaded, no forward pass, so parsing 160 reports costs only the parsing."""
    from tokenizers import Tokenizer

    from reports_qa.settings import Settings
    from vectorstore.embeddings import resolve_model_path

    tokenizer = Tokenizer.from_file(str(resolve_model_path(Settings().embedding_model) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text).ids)


def parse_pdf(path: Path) -> tuple[LoadedDocument, ParsedReport]:
    doc = load_document(path)
    return doc, parse_document(doc, word_pieces())


def compare(report: ParsedReport, expected: Expected) -> list[Outcome]:
    """Each grade the CSV states for the report, against the product's current records."""
    current: dict[str, list] = defaultdict(list)
    for j in report.judgements:
        if not j.previous:
            current[j.area].append(j)
    kind = report.meta.kind or "?"
    out = []
    for area, value in expected.grades.items():
        got = sorted({j.grade for j in current[area]})
        quote = " ".join(current[area][0].quote.split()) if current[area] else ""
        if value == NOT_REPORTED_POST_REFORM:
            status = "no overall (reform)" if not got and report.meta.no_overall_grade else "overall read after reform"
            out.append(Outcome(expected.path, kind, area, value, got, status, quote))
            continue
        grade = CSV_GRADES.get(value)
        if grade is None:  # blank, data_unreadable, inspection_pre_dates_judgement: the CSV states none
            continue
        if area == "care_leavers" and _combined_with_care(current["in_care"]) and not got:
            # Before 2023 ILACS judged "children in care and care leavers" as one: the report
            # states no care leavers grade of its own, whatever the CSV copies into its column.
            out.append(Outcome(expected.path, kind, area, grade, got, "combined in the report", ""))
            continue
        status = "missed" if not got else ("agree" if got == [grade] else "disagree")
        out.append(Outcome(expected.path, kind, area, grade, got, status, quote))
    return out


def _combined_with_care(in_care: list) -> bool:
    return any(re.search(r"care\s+leavers", j.area_text, re.I) for j in in_care)


def meta_mismatches(report: ParsedReport, expected: Expected) -> list[str]:
    """Where the product's kind, dates or lead inspector differ from the CSV's (CSV blank: not compared)."""
    meta = report.meta
    problems = []
    if expected.framework in {"standard", "short"} and expected.framework not in (meta.kind or ""):
        problems.append(f"kind {meta.kind!r}, CSV {expected.framework!r}")
    for name, got, want in (("inspection start", meta.inspection_start, expected.start),
                            ("inspection end", meta.inspection_end, expected.end),
                            ("published", meta.published, expected.published)):
        if want and got != want:
            problems.append(f"{name} {got}, CSV {want}")
    if expected.lead_inspector and " ".join(expected.lead_inspector.split()) != meta.lead_inspector:
        problems.append(f"lead inspector {meta.lead_inspector!r}, CSV {expected.lead_inspector!r}")
    return problems


_DIGITS = re.compile(r"\d+")


def page_furniture_lines(doc: LoadedDocument) -> set[str]:
    """Lines among the first or last three of a page that recur, digits aside, on three pages
    and a quarter of them: running headers and footers, found without the product's detector."""
    if len(doc.page_starts) < 3:
        return set()
    ends = [*doc.page_starts[1:], len(doc.text)]
    seen: dict[str, set[int]] = defaultdict(set)
    for page, (start, end) in enumerate(zip(doc.page_starts, ends)):
        lines = [ln.strip() for ln in doc.text[start:end].split("\n") if ln.strip()]
        for ln in lines[:3] + lines[-3:]:
            if len(ln) >= 12 and sum(c.isalpha() for c in ln) >= 8:
                seen[_DIGITS.sub("#", ln)].add(page)
    needed = max(3, len(doc.page_starts) // 4)
    return {key for key, pages in seen.items() if len(pages) >= needed}


def holds_furniture(text: str, furniture: set[str]) -> bool:
    return any(_DIGITS.sub("#", ln.strip()) in furniture for ln in text.split("\n") if ln.strip())


def run(
    paths: Iterable[Path],
    root: Path,
    expected: dict[str, Expected],
    parse: Callable[[Path], tuple[LoadedDocument, ParsedReport]] = parse_pdf,
) -> tuple[list[Outcome], list[ReportStats]]:
    """Parse each report (``parse``: tests pass their cached one) and compare it with the CSV."""
    outcomes: list[Outcome] = []
    stats: list[ReportStats] = []
    for path in paths:
        rel = path.relative_to(root).as_posix()
        started = time.perf_counter()
        st = ReportStats(rel)
        try:
            doc, report = parse(path)
        except Exception as exc:  # a saved web page named .pdf, a damaged file: noted, not fatal
            st.error = str(exc)
            stats.append(st)
            continue
        st.kind = report.meta.kind
        furniture = page_furniture_lines(doc)
        st.chunks = len(report.chunks)
        st.chunks_with_furniture = sum(holds_furniture(c.text, furniture) for c in report.chunks)
        st.quotes_with_furniture = sum(holds_furniture(j.quote, furniture) for j in report.judgements)
        if rel in expected:
            outcomes += compare(report, expected[rel])
            st.meta_mismatches = meta_mismatches(report, expected[rel])
        st.seconds = round(time.perf_counter() - started, 3)
        stats.append(st)
    return outcomes, stats


def summarise(outcomes: list[Outcome]) -> list[dict]:
    """Coverage and agreement by kind of inspection and area, with an "all" row per kind and overall."""
    groups: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for o in outcomes:
        for key in ((o.kind, o.area), (o.kind, "all"), ("all", "all")):
            groups[key][o.status] += 1
    rows = []
    for (kind, area), c in sorted(groups.items(), key=lambda kv: (kv[0][0] == "all", kv[0][0], kv[0][1] == "all", kv[0][1])):
        stated = c["agree"] + c["disagree"] + c["missed"]
        read = c["agree"] + c["disagree"]
        rows.append({
            "kind": kind, "area": area, "stated": stated, "read": read,
            "coverage": round(read / stated, 4) if stated else None,
            "agree": c["agree"], "disagree": c["disagree"], "missed": c["missed"],
            "errors": round(c["disagree"] / read, 4) if read else None,
            "no_overall_reform": c["no overall (reform)"], "overall_read_after_reform": c["overall read after reform"],
            "combined_in_report": c["combined in the report"],
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=OFSTED_DIR / "reports")
    parser.add_argument("--csv", type=Path, default=OFSTED_DIR / "judgements.csv")
    parser.add_argument("--only", help="only reports whose path contains this text")
    parser.add_argument("--json", action="store_true", help="print everything as one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    expected = load_expected(args.csv)
    paths = sorted(p for p in args.reports.rglob("*.pdf") if not args.only or args.only in str(p))
    started = time.perf_counter()
    outcomes, stats = run(paths, args.reports, expected)
    seconds = round(time.perf_counter() - started, 1)
    table = summarise(outcomes)
    problems = [o for o in outcomes if o.status in {"disagree", "missed", "overall read after reform",
                                                    "combined in the report"}]
    structure = {
        "reports": len(stats),
        "failed": [{"path": s.path, "error": s.error} for s in stats if s.error],
        "chunks": sum(s.chunks for s in stats),
        "chunks_with_furniture": sum(s.chunks_with_furniture for s in stats),
        "reports_with_furniture_in_chunks": sum(1 for s in stats if s.chunks_with_furniture),
        "judgement_quotes_with_furniture": sum(s.quotes_with_furniture for s in stats),
        "kinds": dict(Counter(s.kind for s in stats if not s.error)),
        "metadata_mismatches": {s.path: s.meta_mismatches for s in stats if s.meta_mismatches},
        "seconds": seconds,
    }
    if args.json:
        json.dump({"table": table, "problems": [asdict(o) for o in problems], "structure": structure,
                   "reports": [asdict(s) for s in stats]}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0

    print(f"{len(stats)} reports parsed in {seconds} s (parse only); grades against {args.csv.name}\n")
    print(f"{'kind':<28} {'area':<16} {'stated':>6} {'read':>5} {'coverage':>8} {'agree':>6} {'wrong':>6} "
          f"{'missed':>6} {'errors':>7} {'no overall (reform)':>19}")
    for r in table:
        cov = "–" if r["coverage"] is None else f"{100 * r['coverage']:.1f}%"
        err = "–" if r["errors"] is None else f"{100 * r['errors']:.1f}%"
        reform = f"{r['no_overall_reform']}/{r['no_overall_reform'] + r['overall_read_after_reform']}" if (
            r["no_overall_reform"] or r["overall_read_after_reform"]) else ""
        print(f"{r['kind']:<28} {r['area']:<16} {r['stated']:>6} {r['read']:>5} {cov:>8} {r['agree']:>6} "
              f"{r['disagree']:>6} {r['missed']:>6} {err:>7} {reform:>19}")
    print("\nDisagreements and misses (the CSV's grade, then the product's, then its quote):")
    for o in problems:
        print(f"- {o.path} [{o.area}] CSV {o.expected!r}, read {o.got or 'nothing'}: {o.quote[:160]!r}")
    if not problems:
        print("  none")
    print(f"\nStructure: {structure['chunks']} chunks, {structure['chunks_with_furniture']} holding a running "
          f"header or footer line (in {structure['reports_with_furniture_in_chunks']} reports); "
          f"{structure['judgement_quotes_with_furniture']} judgement quotes holding one.")
    print("Kinds: " + ", ".join(f"{k}: {n}" for k, n in sorted(structure["kinds"].items(), key=str)))
    for f in structure["failed"]:
        print(f"Not parsed: {f['path']}: {f['error']}")
    if structure["metadata_mismatches"]:
        print("Metadata against the CSV:")
        for path, items in structure["metadata_mismatches"].items():
            print(f"- {path}: " + "; ".join(items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
