"""One writer at a time for an embedded store: a lock file under the data directory.

Chroma's embedded store is one process's: two processes writing it at once (two ingests, or an
ingest beside the app's upload) can corrupt its index. Every write (ingest, remove, prune, the
app's upload and remove) holds :func:`store_lock` for as long as it writes; a second writer is
refused at once with :class:`StoreBusyError`, which says who holds the lock. Readers (ask, the
app's questions) never take it.

The lock is ``fcntl.flock`` on ``DATA_DIR/write.lock``: the operating system releases it when
the holding process exits, however it dies (SIGKILL included), so a crash never leaves a stale
lock behind. The file also records the holder's pid and what it is doing, for the message; the
pid is only read while the lock is held, so it is never stale. A Chroma server serialises writes
itself, so with ``REPORTS_QA_CHROMA_URL`` set no lock is taken.

The lock is re-entrant within one thread (``reports-qa ingest`` takes it before loading the
model, and the indexer again for each run), and refuses other threads of the same process as it
refuses other processes: two browser sessions of one app uploading at once are two writers.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reports_qa.settings import Settings
from vectorstore.store import StoreError

log = logging.getLogger(__name__)

LOCK_NAME = "write.lock"


class StoreBusyError(StoreError):
    """Another process (or another session of this app) is writing to the store."""


class _Held:
    def __init__(self, fd: int | None, owner: int) -> None:
        self.fd, self.owner, self.depth = fd, owner, 1


_held: dict[Path, _Held] = {}
_guard = threading.Lock()


def lock_path(settings: Settings) -> Path:
    return settings.data_dir / LOCK_NAME


@contextmanager
def store_lock(settings: Settings, doing: str = "ingest") -> Iterator[None]:
    """Hold the store's write lock while the block runs; ``doing`` names the work in messages
    ("ingest", "remove", "upload", "prune"). Raises StoreBusyError when another writer holds it."""
    if settings.chroma_url:  # the server serialises writes
        yield
        return
    path = lock_path(settings).resolve()
    me = threading.get_ident()
    with _guard:
        held = _held.get(path)
        if held is not None:
            if held.owner != me:
                raise StoreBusyError(_busy_message(settings, _holder(path), doing))
            held.depth += 1
        else:
            _held[path] = _Held(_acquire(settings, path, doing), me)
    try:
        yield
    finally:
        with _guard:
            held = _held[path]
            held.depth -= 1
            if held.depth == 0:
                del _held[path]
                _release(held.fd)


def _acquire(settings: Settings, path: Path, doing: str) -> int | None:
    """The locked file's descriptor; None where the data directory cannot be written at all (a
    read-only store: nothing can write it, and opening the store says so)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            log.debug("no write lock at %s (%s): the store cannot be written either", path, exc)
            return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise StoreBusyError(_busy_message(settings, _holder(path), doing)) from None
        raise StoreError(f"cannot lock the store at {settings.chroma_path} ({exc})") from exc
    try:  # who holds it, for the next writer's message
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {doing}\n".encode(), 0)
    except OSError:
        pass  # read-only: the lock still holds
    return fd


def _release(fd: int | None) -> None:
    if fd is None:
        return
    try:
        os.ftruncate(fd, 0)
    except OSError:
        pass
    os.close(fd)  # closing the last descriptor releases the flock


def _holder(path: Path) -> tuple[int, str] | None:
    try:
        pid, _, doing = path.read_text(encoding="utf-8").strip().partition(" ")
        return int(pid), doing or "ingest"
    except (OSError, ValueError):
        return None


def _busy_message(settings: Settings, holder: tuple[int, str] | None, doing: str) -> str:
    who = "another ingest"
    if holder is not None:
        pid, what = holder
        who = f"another {what} (process {pid}{', this app' if pid == os.getpid() else ''})"
    return (
        f"{who} is writing to the store at {settings.chroma_path}; this {doing} was not started. "
        "Wait for it to finish and try again (one writer at a time: set REPORTS_QA_CHROMA_URL to a "
        "Chroma server for several)."
    )
