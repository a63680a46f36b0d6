"""PDF text extraction: pypdf (what ingest uses) against pypdfium2, for speed and for the text.

    .venv/bin/python -m bench.bench_pdf [--corpus DIR] [--limit N] [--json]

For each PDF (default: the Ofsted reports of ``../shared/ofsted/reports``), both libraries read
every page, alternately file by file so the machine's load touches both alike. Printed: seconds
per report for each, and how far pypdfium2's text agrees with pypdf's: the share of pypdf's
words it has (words kept), the share of pypdf's word sequence it keeps in the same order (the
longest common subsequence of the two word lists over pypdf's length), and whether it finds
the same pages with the same words on each (pages kept: per-page word overlap over 0.95), and
the share of pages whose text is identical but for spacing (what verbatim quotes need).
pypdf's text is the reference because the question sets quote it verbatim.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from reports_qa.settings import PROJECT_ROOT

OFSTED_REPORTS = PROJECT_ROOT.parent / "shared" / "ofsted" / "reports"
WORD = re.compile(r"\w+(?:[’'\-]\w+)*")


def with_pypdf(data: bytes) -> list[str]:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    return [(page.extract_text() or "").replace("\x00", "") for page in reader.pages]


def with_pdfium(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def in_order(reference: list[str], other: list[str]) -> float:
    """Share of ``reference`` kept in the same order by ``other`` (matching blocks of the two)."""
    matcher = difflib.SequenceMatcher(None, reference, other, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / max(len(reference), 1)


def compare(ref_pages: list[str], pages: list[str]) -> dict:
    ref_words, got_words = words("\n".join(ref_pages)), words("\n".join(pages))
    ref_count, got_count = Counter(ref_words), Counter(got_words)
    kept = sum((ref_count & got_count).values()) / max(len(ref_words), 1)
    same_pages = len(ref_pages) == len(pages) and all(
        sum((Counter(words(a)) & Counter(words(b))).values()) >= 0.95 * len(words(a))
        for a, b in zip(ref_pages, pages)
    )
    same_text = sum(" ".join(a.split()) == " ".join(b.split()) for a, b in zip(ref_pages, pages))
    return {"words_kept": kept, "pages_same_text": same_text / max(len(ref_pages), 1), "extra_words": max(len(got_words) - len(ref_words), 0) / max(len(ref_words), 1),
            "order_kept": in_order(ref_words, got_words), "pages_kept": same_pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=OFSTED_REPORTS)
    parser.add_argument("--limit", type=int, help="at most N files, spread over the corpus")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.rglob("*.pdf") if p.read_bytes()[:1024].find(b"%PDF-") >= 0)
    if args.limit and args.limit < len(files):
        files = [files[int(i * len(files) / args.limit)] for i in range(args.limit)]
    rows = []
    for path in files:
        data = path.read_bytes()
        t0 = time.perf_counter()
        ref = with_pypdf(data)
        t1 = time.perf_counter()
        got = with_pdfium(data)
        t2 = time.perf_counter()
        rows.append({"file": str(path.relative_to(args.corpus)), "pages": len(ref), "pypdf_s": t1 - t0,
                     "pdfium_s": t2 - t1, **compare(ref, got)})
    summary = {
        "files": len(rows),
        "pypdf_s_per_report": statistics.median(r["pypdf_s"] for r in rows),
        "pdfium_s_per_report": statistics.median(r["pdfium_s"] for r in rows),
        "pypdf_s_total": sum(r["pypdf_s"] for r in rows), "pdfium_s_total": sum(r["pdfium_s"] for r in rows),
        "words_kept_min": min(r["words_kept"] for r in rows),
        "words_kept_median": statistics.median(r["words_kept"] for r in rows),
        "order_kept_min": min(r["order_kept"] for r in rows),
        "order_kept_median": statistics.median(r["order_kept"] for r in rows),
        "pages_kept": sum(r["pages_kept"] for r in rows),
        "pages_same_text": sum(r["pages_same_text"] * r["pages"] for r in rows) / max(sum(r["pages"] for r in rows), 1),
    }
    if args.json:
        print(json.dumps({"summary": summary, "rows": rows}, indent=2))
        return
    s = summary
    print(f"{s['files']} PDFs: pypdf {s['pypdf_s_total']:.0f} s (median {s['pypdf_s_per_report']:.2f} s a report), "
          f"pypdfium2 {s['pdfium_s_total']:.0f} s (median {s['pdfium_s_per_report']:.2f} s): "
          f"{s['pypdf_s_total'] / s['pdfium_s_total']:.1f}x")
    print(f"pypdfium2 against pypdf's text: words kept median {s['words_kept_median']:.4f} (min {s['words_kept_min']:.4f}), "
          f"order kept median {s['order_kept_median']:.4f} (min {s['order_kept_min']:.4f}), "
          f"same words on the same pages in {s['pages_kept']} of {s['files']}; "
          f"pages whose text is identical but for spacing: {s['pages_same_text']:.1%}")
    worst = sorted(rows, key=lambda r: r["order_kept"])[:5]
    for r in worst:
        print(f"  {r['file']}: words {r['words_kept']:.4f}, order {r['order_kept']:.4f}, pages {r['pages_kept']}")


if __name__ == "__main__":
    main()
