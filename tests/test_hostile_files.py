"""Hostile files through the real ingest: one folder of every bad or malicious file
(``tests/hostile.py``) beside a good report, ingested in ONE ``Indexer.ingest_paths`` run with the
real model and a real Chroma store, then hostile upload names through ``Indexer.ingest_bytes``.

The rules checked: each bad file fails alone with a one-line reason naming it (or is ingested
with the right text where it is in fact fine), the good report is ingested, the store holds
nothing of a failed file, no orphan chunk is left, nothing is read from outside the folder and
nothing is written outside the data dir. Every file tried gets exactly one result, so the count
printed ("files tried") is also what was checked.
"""

from __future__ import annotations

import os
import re
import resource
import time
from pathlib import Path

import pytest

from ingest import loaders
from ingest.loaders import display_name
from reports_qa.settings import Settings
from tests.hostile import (
    GOOD_REPORT,
    GOOD_TEXT,
    SCRIPT_WORDS,
    UPLOAD_NAMES,
    big_text,
    docx_paragraphs,
    pdf_text,
    write_hostile_folder,
)
from vectorstore.indexer import Indexer
from vectorstore.store import ReportStore

# The two PDF CPU bombs run into the reading deadline; 120 s each is the product's default,
# 3 s exercises the same check. Every other limit is the default: the 50 MB text file is under
# the 200 MB file limit and refused by the text limit (REPORTS_QA_MAX_TEXT_CHARS).
PDF_SECONDS = 3.0
BIG_MB = 50
DEFAULT_MAX_TEXT_CHARS = Settings.model_fields["max_text_chars"].default
# What no one-line message or stored source may hold: controls (newlines, ANSI escapes) and
# bidi overrides.
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
ESCAPES = [Path("/tmp/reports-qa-zip-slip.txt"), Path("/etc/reports-qa-zip-slip"), Path("/tmp/reports-qa-escape.txt")]


def _clean_settings(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **kw: object) -> Settings:
    for var in [v for v in os.environ if v.startswith("REPORTS_QA_")]:
        monkeypatch.delenv(var)
    return Settings(data_dir=data_dir, **kw)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime: to prove nothing there changed."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory, embedder):
    root = tmp_path_factory.mktemp("hostile")
    for path in ESCAPES:
        assert not path.exists(), f"left over from an earlier run: {path}"
    built = write_hostile_folder(root / "reports", root / "outside", big_mb=BIG_MB)
    outside_before = _tree(root / "outside")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loaders, "MAX_PDF_SECONDS", PDF_SECONDS)
        settings = _clean_settings(mp, root / "data")
        store = ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension)
        try:
            started = time.perf_counter()
            results = Indexer(store, embedder, settings).ingest_paths([built.folder])
            seconds = time.perf_counter() - started
            print(f"\nhostile files tried: {len(results)} in {seconds:.1f}s "
                  f"({sum(r.status == 'failed' for r in results)} failed, "
                  f"{sum(r.status == 'ingested' for r in results)} ingested)")
            for r in results:
                print(f"  {r.status:8} {r.seconds:6.2f}s {r.message or ascii(r.source)}")
            yield built, results, store, outside_before
        finally:
            store.close()


def test_every_hostile_file_gets_one_result(hostile_run) -> None:
    built, results, _, _ = hostile_run
    by_source = [r.source for r in results]
    assert len(by_source) == len(set(by_source)), "a file was reported twice"
    assert sorted(by_source) == sorted(display_name(h.name) for h in built.files), "a file was skipped without a word"
    assert all(s == display_name(s) for s in by_source), "a result names a file unsafely"
    assert len(results) >= 50


def test_bad_files_fail_alone_with_one_line_reasons(hostile_run) -> None:
    built, results, _, _ = hostile_run
    result = {r.source: r for r in results}
    wrong = []
    for h in built.files:
        r = result[display_name(h.name)]
        if r.status != h.expect:
            wrong.append(f"{h.name} ({h.what}): {r.status} {r.message!r}, expected {h.expect}")
            continue
        if h.expect == "failed":
            assert not UNSAFE.search(r.message), repr(r.message)
            # Both the result and its message name the file made safe.
            assert r.message.startswith(display_name(r.source)), r.message
            assert len(r.message) < 400, r.message
            for words in h.reason:
                assert words.lower() in r.message.lower(), (h.name, words, r.message)
            assert r.report_id is None and r.chunks == 0
    assert not wrong, "\n".join(wrong)
    assert result[GOOD_REPORT].status == "ingested" and result[GOOD_REPORT].chunks > 10


def test_store_holds_exactly_the_ingested_reports(hostile_run) -> None:
    built, results, store, _ = hostile_run
    ingested = {display_name(r.source) for r in results if r.status == "ingested"}
    failed = {display_name(r.source) for r in results if r.status == "failed"}
    records = store.list_reports()
    assert not any(UNSAFE.search(rec.meta.source) for rec in records)
    assert {rec.meta.source for rec in records} == ingested
    assert not {rec.meta.source for rec in records} & failed

    # Every chunk Chroma holds (not only the current ones all_chunks serves) belongs to the
    # current version of an ingested report, and there are exactly as many as the manifests say.
    raw = store._chunks.get(include=["metadatas"])
    current = {rec.meta.report_id: rec.version for rec in records}
    assert all(current.get(m["report_id"]) == m["version"] for m in raw["metadatas"])
    assert len(raw["ids"]) == sum(rec.chunks for rec in records) == len(store.all_chunks())
    assert {m["source"] for m, _ in store.all_chunks()} == ingested
    assert store.repair() == 0


def test_ingested_text_is_right_and_holds_nothing_it_should_not(hostile_run) -> None:
    built, results, store, _ = hostile_run
    result = {r.source: r for r in results}
    for h in built.files:
        if h.expect != "ingested":
            continue
        text = store.report_text(result[display_name(h.name)].report_id)
        for wanted in h.text:
            assert wanted in text, (h.name, wanted, text[:300])
        for unwanted in h.absent:
            assert unwanted not in text, (h.name, unwanted)
        assert "\r" not in text and "\x00" not in text
    for meta, chunk in store.all_chunks():
        text = store.report_text(meta["report_id"])
        assert text[meta["start"] : meta["end"]] == chunk
        for word in SCRIPT_WORDS:  # no script, style or handler reached any report
            assert word not in chunk, (meta["source"], word)
        # Nothing behind a symlink leading out of the folder was read.
        assert "hunter2" not in chunk and "Another secret" not in chunk and "root:x:0:0" not in chunk
    assert GOOD_TEXT in store.report_text(result[GOOD_REPORT].report_id)


def test_nothing_outside_the_folder_was_touched(hostile_run) -> None:
    built, _, _, outside_before = hostile_run
    assert _tree(built.outside) == outside_before
    for path in ESCAPES:
        assert not path.exists(), f"written outside the data dir: {path}"


def test_fifty_megabyte_text_is_refused_quickly_by_the_text_limit(hostile_run) -> None:
    """Under the 200 MB file limit, 50 MB of text would take ~5 min to parse and hours to embed;
    it is refused once read, in about a second, and nothing of it reaches the store."""
    built, results, store, _ = hostile_run
    [big] = [r for r in results if r.source == f"big-{BIG_MB}mb.txt"]
    chars = len(big_text(BIG_MB).decode())
    assert chars > DEFAULT_MAX_TEXT_CHARS
    assert big.status == "failed" and big.report_id is None and big.chunks == 0
    assert big.message == (
        f"big-{BIG_MB}mb.txt has {chars:,} characters of text, over the {DEFAULT_MAX_TEXT_CHARS:,}-character "
        "limit; split it or raise REPORTS_QA_MAX_TEXT_CHARS"
    )
    assert big.seconds < 10, f"refusing it took {big.seconds:.1f}s"
    assert not any("Highways programme part" in chunk for _, chunk in store.all_chunks())
    # The files after it in the same run still went in.
    later = [r for r in results if r.source > big.source and r.status == "ingested"]
    assert later and all(store.get_report(r.report_id) is not None for r in later)


# --- uploads ------------------------------------------------------------------------------------


@pytest.fixture
def upload_indexer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder):
    settings = _clean_settings(monkeypatch, tmp_path / "data")
    store = ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension)
    try:
        yield Indexer(store, embedder, settings)
    finally:
        store.close()


def _upload_text(n: int) -> bytes:
    return f"Adroddiad {n}\n\n1. Summary\n\nThe council agreed item {n} of the highways plan, costing \u00a3{n}0,000.\n".encode()


def test_upload_names_cannot_choose_where_anything_is_written(upload_indexer: Indexer, tmp_path: Path) -> None:
    indexer = upload_indexer
    settings = indexer.settings
    for path in ESCAPES:
        assert not path.exists()
    stored = {}
    for n, (claimed, base) in enumerate(UPLOAD_NAMES, 1):
        result = indexer.ingest_bytes(_upload_text(n), claimed)
        assert result.status == "ingested", (claimed, result.message)
        assert result.source == base
        stored[result.report_id] = base
    records = {r.meta.report_id: r.meta.source for r in indexer.store.list_reports()}
    assert records == stored
    # Uploads are kept under generated names inside the data dir, and nowhere else.
    kept = sorted(p.name for p in settings.uploads_dir.iterdir())
    assert kept == sorted(f"{rid}{Path(base).suffix}" for rid, base in stored.items())
    assert all(p.resolve().is_relative_to(settings.data_dir.resolve()) for p in settings.data_dir.rglob("*"))
    assert not any(p.exists() for p in ESCAPES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_unsafe_upload_names_are_made_safe_and_never_collide(upload_indexer: Indexer) -> None:
    indexer = upload_indexer
    names = [
        "minutes\nFAKE: all reports deleted.txt",  # a newline would forge a second summary line
        "tab\tand\x00nul\x1b[31mansi.txt",
        "\u202egnp.txt",  # a right-to-left override reorders what a reader sees
        "x" * 5000 + ".txt",  # longer than any file system allows
        "\u5831\u544a.txt",  # two Chinese names, which both slug to "report"...
        "\u4f1a\u8bae.txt",
        "adroddiad-\u0175yl.txt",  # ...and Welsh, Polish and Arabic ones
        "adroddiad-wyl.txt",
        "sprawozdanie-\u0142\u00f3d\u017a.txt",
        "\u062a\u0642\u0631\u064a\u0631.txt",
    ]
    results = [indexer.ingest_bytes(_upload_text(n), name) for n, name in enumerate(names, 1)]
    for name, r in zip(names, results):
        assert r.status == "ingested", (name, r.message)
        assert r.source == display_name(r.source), r.source  # nothing left to make safe
        assert not any(c in r.source for c in "\n\t\x00\x1b\u202e/\\"), repr(r.source)
        assert len(r.source) <= loaders.MAX_NAME_CHARS
    # Ten names, ten reports: none replaced another.
    assert len({r.report_id for r in results}) == len(names)
    assert len(indexer.store.list_reports()) == len(names)
    kept = list(indexer.settings.uploads_dir.iterdir())
    assert len(kept) == len(names) and all(len(p.name.encode()) <= 255 for p in kept)


@pytest.mark.parametrize(
    ("claimed", "reason"),
    [("..", "unsupported file type"), ("", "unsupported file type"), ("../", "unsupported file type"),
     (".txt", "unsupported file type"), ("report.exe", "unsupported file type '.exe'"),
     ("a\nb.pdf", "not a readable PDF")],
)
def test_bad_upload_names_fail_on_one_line(upload_indexer: Indexer, claimed: str, reason: str) -> None:
    result = upload_indexer.ingest_bytes(b"Some text of a report.", claimed)
    assert result.status == "failed"
    assert reason in result.message and "\n" not in result.message
    assert upload_indexer.store.list_reports() == []
    assert not upload_indexer.settings.uploads_dir.exists() or not any(upload_indexer.settings.uploads_dir.iterdir())


def test_a_bad_new_version_loses_nothing(upload_indexer: Indexer) -> None:
    indexer = upload_indexer
    good = (Path(loaders.__file__).resolve().parent.parent / "data" / "reports" / GOOD_REPORT).read_bytes()
    first = indexer.ingest_bytes(good, GOOD_REPORT)
    assert first.status == "ingested"
    before = indexer.store.get_report(first.report_id)
    for data in (b"", os.urandom(4096), b"\x89PNG\r\n\x1a\n" + bytes(64), "\ufeff\u200b \n".encode()):
        again = indexer.ingest_bytes(data, GOOD_REPORT)
        assert again.status == "failed" and again.message.startswith(GOOD_REPORT), again
    after = indexer.store.get_report(first.report_id)
    assert (after.version, after.chunks) == (before.version, before.chunks)
    assert len(indexer.store.all_chunks()) == before.chunks and indexer.store.repair() == 0
    kept = indexer.settings.uploads_dir / f"{first.report_id}.txt"
    assert kept.read_bytes() == good  # the kept original is still the good one


# --- size ---------------------------------------------------------------------------------------

LIMIT = 20_000  # characters: small, so each format's over-limit file is cheap to build


def _over_and_under(kind: str) -> tuple[bytes, bytes]:
    """A file of ``kind`` whose text is well over ``LIMIT``, and one well under it; distinct
    paragraphs, since repeated lines are page furniture and are not indexed."""

    def paras(n: int, repeat: int = 1) -> list[str]:
        return [" ".join(f"Item {i}.{j}: the committee noted the {kind} highways budget for road {i * 7 + j} "
                         "and asked for a report on progress." for j in range(repeat)) for i in range(n)]

    if kind in ("txt", "md"):
        return tuple(("1. Summary\n\n" + "\n\n".join(paras(n))).encode() for n in (400, 20))
    if kind == "html":
        return tuple(("<html><body><h1>Highways</h1>" + "".join(f"<p>{p}</p>" for p in paras(n)) + "</body></html>").encode()
                     for n in (400, 20))
    if kind == "docx":
        return docx_paragraphs(paras(150, 3)), docx_paragraphs(paras(6, 3))
    if kind == "pdf":
        return pdf_text(paras(50, 9)), pdf_text(paras(2, 9))
    raise AssertionError(kind)


KINDS = ("txt", "md", "html", "docx", "pdf")


@pytest.mark.parametrize("kind", KINDS)
def test_text_limit_is_exact_in_every_format(kind: str) -> None:
    """A text of exactly the limit is read; one character more is refused, on one line that
    says the size and the setting to raise."""
    _, under = _over_and_under(kind)
    name = f"report.{kind}"
    n = len(loaders.load_bytes(under, name, max_text_chars=10**9).text)
    assert n < LIMIT
    assert loaders.load_bytes(under, name, max_text_chars=n).text
    with pytest.raises(loaders.UnreadableFile) as info:
        loaders.load_bytes(under, name, max_text_chars=n - 1)
    assert str(info.value) == (
        f"{name} has {n:,} characters of text, over the {n - 1:,}-character limit; "
        "split it or raise REPORTS_QA_MAX_TEXT_CHARS"
    )


@pytest.mark.parametrize(("kind", "stopped"), [("pdf", r"stopped at page [5-7] of 50"), ("docx", "stopped part-way")])
def test_long_pdf_and_word_files_stop_being_read_at_the_limit(kind: str, stopped: str) -> None:
    over, _ = _over_and_under(kind)
    total = len(loaders.load_bytes(over, f"all.{kind}", max_text_chars=10**9).text)
    with pytest.raises(loaders.UnreadableFile) as info:
        loaders.load_bytes(over, f"long.{kind}", max_text_chars=LIMIT // 4)  # a PDF page holds ~900 characters
    message = str(info.value)
    assert message.startswith(f"long.{kind} has over ") and re.search(rf"\({stopped}\)", message), message
    read = int(message.split(" has over ")[1].split(" ")[0].replace(",", ""))
    assert LIMIT // 4 < read < total / 4, message  # stopped soon after the limit, not at the end


@pytest.fixture
def limited_indexer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder):
    """An indexer whose settings come from REPORTS_QA_MAX_TEXT_CHARS, as the CLI's and app's do."""
    for var in [v for v in os.environ if v.startswith("REPORTS_QA_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("REPORTS_QA_MAX_TEXT_CHARS", str(LIMIT))
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.max_text_chars == LIMIT
    store = ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension)
    try:
        yield Indexer(store, embedder, settings)
    finally:
        store.close()


def test_text_limit_refuses_long_files_of_every_format_and_the_rest_go_in(limited_indexer: Indexer, tmp_path: Path) -> None:
    indexer = limited_indexer
    folder = tmp_path / "in"
    folder.mkdir()
    for kind in KINDS:
        over, under = _over_and_under(kind)
        (folder / f"a-long-{kind}.{kind}").write_bytes(over)
        (folder / f"b-short-{kind}.{kind}").write_bytes(under)
    results = {r.source: r for r in indexer.ingest_paths([folder])}
    assert len(results) == 2 * len(KINDS)
    for kind in KINDS:
        long, short = results[f"a-long-{kind}.{kind}"], results[f"b-short-{kind}.{kind}"]
        assert long.status == "failed" and long.chunks == 0, long
        assert f"over the {LIMIT:,}-character limit" in long.message and "REPORTS_QA_MAX_TEXT_CHARS" in long.message
        assert long.seconds < 10, long
        assert short.status == "ingested" and short.chunks > 0, short
    # An upload is held to the same limit.
    refused = indexer.ingest_bytes(_over_and_under("txt")[0], "upload.txt")
    assert refused.status == "failed" and "REPORTS_QA_MAX_TEXT_CHARS" in refused.message
    records = indexer.store.list_reports()
    assert sorted(r.meta.source for r in records) == sorted(f"b-short-{k}.{k}" for k in KINDS)
    assert len(indexer.store.all_chunks()) == sum(r.chunks for r in records) and indexer.store.repair() == 0
    assert not indexer.settings.uploads_dir.exists() or not any(indexer.settings.uploads_dir.iterdir())


@pytest.mark.slow
def test_text_at_the_default_limit_loads_and_parses_in_bounded_time(tmp_path: Path, embedder) -> None:
    """The default text limit bounds one report's ingest. Measured on 2 shared cores, a text
    just under it (big_text: short numbered paragraphs, so more chunks per MB than a real
    report) loads in under a second and parses in well under a minute; the embedding time it
    projects is printed. Checks that the default limits accept it, that parsing stays bounded
    in time and memory, and that chunks stay verbatim."""
    from ingest.parse import parse_document

    data = big_text(DEFAULT_MAX_TEXT_CHARS / 1024 / 1024 * 0.98)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    assert 0.9 * DEFAULT_MAX_TEXT_CHARS < len(data.decode()) <= DEFAULT_MAX_TEXT_CHARS
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    doc = loaders.load_document(path, max_bytes=int(Settings.model_fields["max_file_mb"].default * 1024 * 1024),
                                max_text_chars=DEFAULT_MAX_TEXT_CHARS)
    loaded = time.perf_counter() - started
    report = parse_document(doc, embedder.count_tokens, model_max_tokens=embedder.max_tokens)
    parsed = time.perf_counter() - started - loaded
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    sample = [c.embed_text for c in report.chunks[:256]]
    tick = time.perf_counter()
    embedder.embed(sample)
    rate = len(sample) / (time.perf_counter() - tick)
    print(f"\n{len(doc.text):,} characters: load {loaded:.1f}s, parse {parsed:.1f}s, {len(report.chunks):,} chunks, "
          f"peak memory +{grown_mb:.0f} MB, embedding {rate:.0f} chunks/s -> ~{len(report.chunks) / rate / 60:.0f} min to embed")
    assert loaded < 10
    assert parsed < 3 * 60
    assert grown_mb < 2 * 1024
    text = report.text
    for chunk in report.chunks[:: max(1, len(report.chunks) // 2000)]:
        assert text[chunk.start : chunk.end] == chunk.text
