"""The real Ofsted PDFs beside the project (``../shared/ofsted``), and the fixed subset CI reads.

The subset is the one the reader question sets (``eval/questions/readers-*.yaml``) are written
over and the one the Ofsted structure and grade tests parse: 16 reports of 10 councils, covering
ILACS standard and short inspections, the reports after the April 2026 reform, SIF (2014) and an
older looked-after-children inspection (2013), three reports that share one file name, and North
Somerset's inspections beside the committee report that discusses one of them. The whole folder
(160 files) is for the ``slow`` tests. The product never reads this folder; only tests do.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from ingest.models import LoadedDocument, ParsedReport
from reports_qa.settings import PROJECT_ROOT

OFSTED_DIR = Path(os.environ.get("REPORTS_QA_TEST_OFSTED_DIR", PROJECT_ROOT.parent / "shared" / "ofsted"))
REPORTS_DIR = OFSTED_DIR / "reports"
JUDGEMENTS_CSV = OFSTED_DIR / "judgements.csv"

# Tune half of the reader sets (councils never in the check half).
TUNE = [
    "2532283_dorset/children's services inspection - 09 may 2025.pdf",
    "2532283_dorset/children's services inspection - 19 november 2021.pdf",
    "80449_bradford/children's services inspection - 21 may 2026.pdf",
    "80449_bradford/children's services inspection - 31 january 2023.pdf",
    "80449_bradford/children's services inspection - 23 may 2014.pdf",
    "80528_north somerset/children's services inspection - 11 may 2023.pdf",
    "80528_north somerset/children's services inspection - 10 june 2020.pdf",
    "80550_sefton/children's services inspection - 12 august 2025.pdf",
    "80550_sefton/children's services inspection - 09 may 2022.pdf",
    "2637548_west northamptonshire/children's services inspection - 07 july 2026.pdf",
    "2637548_west northamptonshire/children's services inspection - 25 november 2022.pdf",
]
# Check half.
CHECK = [
    "2637539_north northamptonshire/children's services inspection - 07 july 2026.pdf",
    "2637539_north northamptonshire/children's services inspection - 25 november 2022.pdf",
    "80573_trafford/children's services inspection - 03 august 2026.pdf",
    "80472_hampshire/children's services inspection - 22 april 2014.pdf",
    "80522_medway/children's services inspection,  pdf - 23 august 2013.pdf",
]
SUBSET = TUNE + CHECK
# A saved web page with a .pdf name: bad input a real corpus has.
HTML_AS_PDF = "80543_rotherham/children's services inspection - 10 august 2012.pdf"


def require_ofsted() -> Path:
    """The folder of real PDFs; a test skips without it (fails on CI, which always has it)."""
    if not REPORTS_DIR.is_dir():
        message = f"the real Ofsted PDFs are not at {REPORTS_DIR} (set REPORTS_QA_TEST_OFSTED_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REPORTS_DIR


def subset_paths(names: list[str] = SUBSET) -> list[Path]:
    root = require_ofsted()
    return [root / name for name in names]


@cache
def parsed(name: str) -> tuple[LoadedDocument, ParsedReport]:
    """A real PDF loaded and parsed the way ingest does, without the embedding model (chunks
    sized by its tokenizer alone): once per test session, so tests over it stay cheap."""
    from bench.bench_judgements import parse_pdf

    return parse_pdf(require_ofsted() / name)


def all_paths() -> list[Path]:
    """Every file of the folder (the ``slow`` tests), the saved web page named .pdf included."""
    return sorted(require_ofsted().rglob("*.pdf"))
