"""Which stored report a file is: a file name never decides by itself.

Ofsted names its PDFs by publication date alone, so one name is several councils' reports. A file
on disk is the report stored from the same path; an upload, which has no path, is the stored
upload of the same name that states the same council, meeting, date and title. The same text
anywhere is a duplicate. Real model, real Chroma, small copies of the sample reports.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.loaders import load_document
from ingest.models import LoadedDocument
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings
from tests.samples import NORTH_SOMERSET, SOUTHWARK, SWINDON, sample_text
from ui.cli import main

NAME = "children's services inspection - 18 may 2026.txt"
BASE_ID = "children-s-services-inspection-18-may-2026"


def ingest(capsys, data: Path, *paths: Path) -> list[dict]:
    code = main(["--data-dir", str(data), "ingest", *map(str, paths), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def listed(capsys, data: Path) -> list[dict]:
    assert main(["--data-dir", str(data), "reports", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def tree(tmp_path) -> Path:
    """Three councils' reports under one file name, in three folders, as Ofsted's are."""
    root = tmp_path / "ofsted"
    for folder, sample in (("80528_north somerset", NORTH_SOMERSET), ("80555_southwark", SOUTHWARK),
                           ("80565_swindon", SWINDON)):
        (root / folder).mkdir(parents=True)
        shutil.copy(Path(SAMPLE_REPORTS_DIR) / sample, root / folder / NAME)
    return root


def test_same_name_in_other_folders_is_another_report(tmp_path, tree, capsys):
    data = tmp_path / "data"
    results = ingest(capsys, data, tree)
    assert [r["status"] for r in results] == ["ingested"] * 3
    ids = [r["report_id"] for r in results]
    assert ids == [BASE_ID, f"{BASE_ID}-southwark", f"{BASE_ID}-swindon"]
    rows = {r["report_id"]: r for r in listed(capsys, data)}
    assert {rows[i]["council"] for i in ids} == {"North Somerset Council", "London Borough of Southwark", "Swindon Borough Council"}

    again = ingest(capsys, data, tree)
    assert [(r["status"], r["report_id"], r["embedded"]) for r in again] == [("unchanged", i, 0) for i in ids]

    # An edit of one file replaces that report and no other.
    edited = tree / "80565_swindon" / NAME
    edited.write_text(edited.read_text(encoding="utf-8") + "\nAddendum: a late note.\n", encoding="utf-8")
    third = ingest(capsys, data, tree)
    assert [r["status"] for r in third] == ["unchanged", "unchanged", "replaced"]
    assert third[2]["report_id"] == f"{BASE_ID}-swindon"
    assert len(listed(capsys, data)) == 3


def test_same_text_in_another_folder_is_a_duplicate(tmp_path, tree, capsys):
    data = tmp_path / "data"
    ingest(capsys, data, tree)
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    shutil.copy(tree / "80555_southwark" / NAME, copy / NAME)
    result, = ingest(capsys, data, copy)
    assert result["status"] == "duplicate" and result["report_id"] == f"{BASE_ID}-southwark"
    assert len(listed(capsys, data)) == 3


def test_uploads_are_told_apart_by_what_they_state(tmp_path, embedder):
    from vectorstore.indexer import Indexer
    from vectorstore.store import ReportStore

    settings = Settings(data_dir=tmp_path / "data")
    with ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension) as store:
        indexer = Indexer(store, embedder, settings)
        ns = sample_text(NORTH_SOMERSET).encode()
        first = indexer.ingest_bytes(ns, NAME)
        other = indexer.ingest_bytes(sample_text(SWINDON).encode(), NAME)
        assert (first.status, other.status) == ("ingested", "ingested")
        assert first.report_id != other.report_id
        # The same report (council, meeting, date, title) with new text is a new version of it.
        newer = indexer.ingest_bytes(ns + b"\nAddendum: a late note.\n", NAME)
        assert (newer.status, newer.report_id) == ("replaced", first.report_id)
        assert indexer.ingest_bytes(ns + b"\nAddendum: a late note.\n", NAME).status == "unchanged"
        assert len(store.list_reports()) == 2


def test_an_older_store_without_paths_keeps_its_reports(tmp_path, tree, embedder, capsys):
    """A store written before paths were recorded: its record is claimed by the file of its name
    that states the same council (and remembers the path); a same-named file of another council
    becomes a report of its own instead of replacing it."""
    from vectorstore.indexer import Indexer
    from vectorstore.store import ReportStore

    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    ns_file = tree / "80528_north somerset" / NAME
    with ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension) as store:
        indexer = Indexer(store, embedder, settings)
        old = load_document(ns_file)
        legacy = LoadedDocument(old.source, old.text, old.file_type)  # as read before: no path, no hash
        report = indexer.parse(legacy)
        store.put_report(report, embedder.embed(report.embed_texts()))
        assert store.get_report(BASE_ID).meta.source_path is None

    results = ingest(capsys, data, tree)
    assert [(r["status"], r["report_id"]) for r in results] == [
        ("unchanged", BASE_ID), ("ingested", f"{BASE_ID}-southwark"), ("ingested", f"{BASE_ID}-swindon")]
    with ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension) as store:
        assert store.get_report(BASE_ID).meta.source_path == str(ns_file.resolve())
