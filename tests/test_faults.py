"""Faults: an ingest killed with SIGKILL at random moments, asking while another process ingests,
and a store that cannot be written (a full disk, a read-only folder).

After every kill the store may be behind, never wrong: each listed report has exactly its own
version's chunks, all of them, and a re-run ends with every report exactly once.
Short by default; ``REPORTS_QA_KILLS=20`` (or ``-m slow``) kills more.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ingest.models import content_hash
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings

KILLS = int(os.environ.get("REPORTS_QA_KILLS", "3"))
# Three of the five samples keep a run short while still giving several reports per ingest.
SAMPLES = ["north-somerset-2020-10-21-executive.txt", "southend-on-sea-2019-09-17-cabinet.txt", "swindon-2019-09-04-cabinet.txt"]


def ingest_cmd(data_dir: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "ui.cli", "--data-dir", str(data_dir), "ingest", str(folder), "--json"]


def check_consistent(data_dir: Path, embedder, stats: Counter | None = None) -> dict[str, str]:
    """Every listed report has all of its current version's chunks and nothing else; returns
    report id -> version. Orphans (chunks of no listed version) are allowed: never served, and
    the next ingest removes them; ``stats`` counts them."""
    from vectorstore.store import ReportStore

    with ReportStore.open(Settings(data_dir=data_dir), model_name=embedder.name, dimension=embedder.dimension) as store:
        listed = {r.meta.report_id: r for r in store.list_reports()}
        served = store.all_chunks()  # what search sees: only listed versions
        per_report = Counter(m["report_id"] for m, _ in served)
        for rid, record in listed.items():
            assert per_report[rid] == record.chunks, f"{rid}: {per_report[rid]} chunks served, manifest says {record.chunks}"
            spans = [(m["start"], m["end"]) for m, _ in served if m["report_id"] == rid]
            assert len(spans) == len(set(spans)), f"{rid}: duplicate chunks"
            assert {m["version"] for m, _ in served if m["report_id"] == rid} == {record.version}
            text = store.report_text(rid)
            assert all(text[m["start"]:m["end"]] == t for m, t in served if m["report_id"] == rid)
        assert set(per_report) <= set(listed)
        if stats is not None:
            stats["checks"] += 1
            stats["orphans"] += store.chunk_count() - len(served)
            stats["most orphans"] = max(stats["most orphans"], store.chunk_count() - len(served))
        return {rid: r.version for rid, r in listed.items()}


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(SAMPLE_REPORTS_DIR / name, folder / name)
    return folder


def edit(folder: Path, round_: int) -> None:
    """Change one report so the next ingest replaces it: the old/new mix is what a kill could leave."""
    path = folder / SAMPLES[round_ % len(SAMPLES)]
    path.write_text(path.read_text(encoding="utf-8") + f"\n\nAddendum {round_}: revised after the meeting.\n", encoding="utf-8")


def test_ingest_killed_at_random_moments_loses_nothing_and_mixes_nothing(corpus, tmp_path, embedder):
    data_dir = tmp_path / "data"
    rng = random.Random(int(os.environ.get("REPORTS_QA_KILL_SEED", "7")))
    # How long a whole ingest takes here, so kills land anywhere in it (model load included).
    started = time.monotonic()
    subprocess.run(ingest_cmd(data_dir, corpus), check=True, capture_output=True, timeout=900)
    full_s = time.monotonic() - started
    check_consistent(data_dir, embedder)

    kills, stats = 0, Counter()
    for round_ in range(KILLS):
        edit(corpus, round_)
        edit(corpus, round_ + 1)
        proc = subprocess.Popen(ingest_cmd(data_dir, corpus), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3 * full_s, full_s))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        check_consistent(data_dir, embedder, stats)  # behind, perhaps; never half a report

    done = subprocess.run(ingest_cmd(data_dir, corpus), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    versions = check_consistent(data_dir, embedder)
    expected = {p.stem: content_hash(p.read_text(encoding="utf-8")) for p in corpus.iterdir()}
    assert versions == expected  # every report exactly once, at the file's current text

    from vectorstore.store import ReportStore

    with ReportStore.open(Settings(data_dir=data_dir), model_name=embedder.name, dimension=embedder.dimension) as store:
        assert store.repair() == 0  # the re-run removed whatever the kills left
        assert store.chunk_count() == sum(r.chunks for r in store.list_reports())
        reports, chunks = len(store.list_reports()), store.chunk_count()
    print(f"\n{kills} kills of {KILLS} rounds survived (a whole ingest took {full_s:.0f} s); after each, every "
          f"listed report whole and no duplicate; orphan chunks left by kills: {stats['orphans']} in all, at most "
          f"{stats['most orphans']} at once, 0 after the re-run; {reports} reports, {chunks} chunks, each exactly once")
    assert kills >= 1


def test_asking_while_another_process_ingests_never_cites_a_missing_chunk(corpus, tmp_path, embedder, monkeypatch):
    """A reader in this process, a writer in another, one store: every answer's quotes are the
    report text at their offsets, whatever the writer is doing.

    Over a Chroma server: Chroma's embedded store is one process (a search there while another
    process writes failed with "Error finding id", now a StoreError that says to use a server).
    """
    from assistant import Assistant
    from tests.chroma_server import ChromaServer
    from vectorstore.store import ReportStore

    server = ChromaServer(tmp_path / "server").start()
    monkeypatch.setenv("REPORTS_QA_CHROMA_URL", server.url)
    data_dir = tmp_path / "data"
    subprocess.run(ingest_cmd(data_dir, corpus), check=True, capture_output=True, timeout=900)
    settings = Settings(data_dir=data_dir)
    store = ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension)
    assistant = Assistant(settings, store, embedder)
    questions = ["What needs to improve in North Somerset?", "What needs to improve in Swindon?",
                 "What did inspectors find in Southend in 2019?", "Addendum revised after the meeting"]
    try:
        asked = 0
        for round_ in range(2):
            for r in range(3):
                edit(corpus, round_ * 3 + r)
            writer = subprocess.Popen(ingest_cmd(data_dir, corpus), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            while writer.poll() is None or asked % len(questions):
                answer = assistant.ask(questions[asked % len(questions)])
                asked += 1
                for c in answer.citations:
                    assert store.report_text(c.passage.report_id)[c.start : c.end] == c.quote
            assert writer.wait() == 0, writer.stderr.read()
        assert asked >= 8
    finally:
        store.close()
        server.stop()


def _disk_full_at(limit: int):
    """For a child process: files may not grow past ``limit`` bytes (as on a full disk; works as
    root too). SIGXFSZ is ignored so the write fails with an error instead of killing it."""

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_writes


def _without_root_override() -> None:
    """For a child process: the permission bits hold for root too. Root writes anywhere through
    CAP_DAC_OVERRIDE; dropping it (and CAP_DAC_READ_SEARCH) from the bounding set, which exec
    keeps, leaves root an ordinary owner. Another user needs nothing dropped."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


INGEST_TIMEOUT_S = 180  # a whole ingest of the three samples takes 20-40 s here


def run_ingest(data_dir: Path, folder: Path, **kw) -> subprocess.CompletedProcess:
    """``reports-qa ingest --json`` in its own process, with a hard time limit. One that hangs is
    stopped with SIGABRT, so that faulthandler prints where every thread was, and fails the test
    with that, instead of blocking the run."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(ingest_cmd(data_dir, folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **kw)
    try:
        out, err = proc.communicate(timeout=INGEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate()
        stack = "\n".join(line for line in err.splitlines() if not line.startswith("Extension modules"))
        pytest.fail(f"the ingest hung for {INGEST_TIMEOUT_S} s; its stacks:\n{stack[-5000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# A full disk fails the first write with Chroma's "disk I/O error", cleanly; the NEXT write in
# the same process then hung inside Chroma's Rust bindings (``_upsert``) in about half the runs.
# So after a failed write the indexer writes nothing more in that run (``Indexer._write_failed``):
# the remaining files fail with the same reason, and this test runs in CI (about 100 s here).
def test_a_full_disk_is_a_clear_error_and_a_later_run_completes(corpus, tmp_path, embedder):
    data_dir = tmp_path / "data"
    others = tmp_path / "later"
    others.mkdir()
    for name in SAMPLES[1:]:
        (corpus / name).rename(others / name)
    first = run_ingest(data_dir, corpus)
    assert first.returncode == 0, first.stderr
    before = check_consistent(data_dir, embedder)
    edit(corpus, 0)  # a replace and two new reports, onto a disk with almost no room
    for p in others.iterdir():
        p.rename(corpus / p.name)
    # the store's own files: the exported embedding model beside them is far bigger, and only read
    biggest = max(p.stat().st_size for p in (data_dir / "chroma").rglob("*") if p.is_file())
    full = run_ingest(data_dir, corpus, preexec_fn=_disk_full_at(biggest + 4096))
    assert full.returncode == 1
    assert "Traceback" not in full.stderr
    results = json.loads(full.stdout)
    assert len(results) == len(SAMPLES)
    assert all(r["status"] == "failed" and "cannot be written" in r["message"] and "disk" in r["message"]
               and "\n" not in r["message"] for r in results), results
    # The store still opens and holds exactly what it held: the old version, nothing new.
    assert check_consistent(data_dir, embedder) == before

    done = run_ingest(data_dir, corpus)
    assert done.returncode == 0, done.stderr
    expected = {p.stem: content_hash(p.read_text(encoding="utf-8")) for p in corpus.iterdir()}
    assert check_consistent(data_dir, embedder) == expected


# Opening the embedded store read-only raised Chroma's InternalError ("attempt to write a readonly
# database") from ``chromadb.PersistentClient``; ``store.make_client`` now turns it into a StoreError.
def test_a_read_only_store_is_a_clear_error_and_changes_nothing(corpus, tmp_path, embedder):
    data_dir = tmp_path / "data"
    for name in SAMPLES[1:]:  # one report is enough to change
        (corpus / name).unlink()
    assert run_ingest(data_dir, corpus).returncode == 0
    before, files = check_consistent(data_dir, embedder), _files(data_dir)
    edit(corpus, 0)
    modes = {p: p.stat().st_mode for p in [data_dir, *data_dir.rglob("*")]}
    for p in modes:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        run = run_ingest(data_dir, corpus, preexec_fn=_without_root_override)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    said = run.stderr + run.stdout
    assert str(data_dir / "chroma") in said and "read-only" in said, said[-3000:]
    assert _files(data_dir) == files  # not a byte changed
    assert check_consistent(data_dir, embedder) == before
