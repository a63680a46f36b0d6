"""The model in a process of its own during a long ingest, so the store is written meanwhile.

Chroma's embedded client holds the GIL for the whole of each call: a Python thread ran at 2 %
of its speed while another thread upserted (measured), and an ingest that wrote in a thread
while the model ran came out slower than writing in turn. A child process holding the model
has no such tie: it embeds the next report while this process writes the last. Texts go out
in the very batches ``Embedder.embed`` makes and come back in order, so the vectors are those
this process would make; a child that dies or cannot start leaves the embedding to this one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ingest.workers import child_of

log = logging.getLogger(__name__)

# A run with fewer files left than this embeds here: starting the child (importing the model's
# libraries and loading it: about 5 s on 2 cores) costs more than the writes it would overlap
# (about 1 s a report over the 160 Ofsted PDFs).
MIN_FILES = 8

_embedder: Any = None


def _init(settings: Any, runtime: str, parent: int) -> None:
    global _embedder
    child_of(parent)
    from vectorstore.embeddings import Embedder

    _embedder = Embedder.from_settings(settings, runtime=runtime)


def _runtime() -> str:
    return _embedder.runtime


def _embed(texts: list[str], batch_size: int) -> list[list[float]]:
    return _embedder.embed_batch(texts, batch_size)


@dataclass(frozen=True)
class Embedding:
    """Texts sent to the child: their batches, and a future for each."""

    texts: list[str]
    batches: list[list[int]]
    futures: list[Future]


class EmbeddingProcess:
    """One child process running the same model and runtime as ``embedder``.

    ``start`` spawns it where enough files are left (it loads in the background); ``ready``
    says when it can take texts, which is never if it was not started, failed to start or runs
    another runtime than this process.
    """

    def __init__(self, settings: Any, embedder: Any, batch_size: int) -> None:
        self.settings, self.embedder, self.batch_size = settings, embedder, batch_size
        self._executor: ProcessPoolExecutor | None = None
        self._loaded: Future | None = None
        self._failed = False

    def __enter__(self) -> EmbeddingProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def start(self, files_left: int) -> None:
        if self._executor is not None or self._failed or files_left < MIN_FILES:
            return
        try:
            # spawn, never fork: this process runs torch's and Chroma's threads.
            self._executor = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                initargs=(self.settings, self.embedder.runtime, os.getpid()))
            self._loaded = self._executor.submit(_runtime)
        except (RuntimeError, OSError) as exc:  # e.g. a script without ``if __name__ == "__main__":``
            self._give_up(f"cannot start an embedding process ({' '.join(str(exc).split())})")

    @property
    def ready(self) -> bool:
        if self._failed or self._loaded is None or not self._loaded.done():
            return False
        try:
            runtime = self._loaded.result()
        except Exception as exc:  # noqa: BLE001 - any failure to load leaves the work here
            self._give_up(f"the embedding process could not load the model ({type(exc).__name__}: {exc})")
            return False
        if runtime != self.embedder.runtime:  # its vectors would not match the store's
            self._give_up(f"the embedding process runs {runtime}, not {self.embedder.runtime}")
            return False
        return True

    def submit(self, texts: Sequence[str]) -> Embedding | None:
        """Send ``texts`` to the child (it must be ``ready``); None where it cannot take them."""
        texts = list(texts)
        batches = self.embedder.batches(texts, self.batch_size)
        try:
            futures = [self._executor.submit(_embed, [texts[j] for j in b], self.batch_size) for b in batches]
        except (RuntimeError, OSError) as exc:  # BrokenProcessPool is a RuntimeError
            self._give_up(f"the embedding process stopped ({type(exc).__name__})")
            return None
        return Embedding(texts, batches, futures)

    def result(self, job: Embedding, progress: Callable[[int], None]) -> list[list[float]]:
        """The vectors of ``job``, in the order of its texts; where the child died, embedded here."""
        out: list[list[float]] = [[] for _ in job.texts]
        for batch, future in zip(job.batches, job.futures):
            try:
                vectors = future.result()
            except Exception as exc:  # noqa: BLE001 - a dead child (out of memory): this process embeds
                self._give_up(f"the embedding process stopped ({type(exc).__name__}: {exc})")
                vectors = self.embedder.embed_batch([job.texts[j] for j in batch], self.batch_size)
            for j, vector in zip(batch, vectors):
                out[j] = vector
            progress(len(batch))
        return out

    def _give_up(self, why: str) -> None:
        if not self._failed:
            log.warning("%s; embedding in this process", why)
        self._failed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
