"""Texts an ingest run has embedded already, so that a repeated text is embedded once.

Reports of one publisher repeat whole sentences: every Ofsted report ends with the same licence,
newsletter and contact paragraphs, and its recommendations are headed "(Recommendation)". In
the 160 Ofsted PDFs 7 % of the 82,001 texts embedded (chunks and their sentences) are repeats.
A text's vector depends only on the text (the model reads each alone), so a repeat takes the
vector made for its first copy: to float precision what embedding it again would give, since
the batch it is padded into changes only the last bits.

The memory is bounded (least recently used texts go first; a vector is 1.5 KB) and lasts one
run: repeats are near each other in a run. The one store read for it is a changed report's
stored version (``prime``): a corrected report re-embeds only the passages that changed.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CAPACITY = 20_000  # texts remembered: about 30 MB of vectors, some 40 Ofsted reports' worth


def text_key(text: str) -> str:
    """What a text's vector is remembered by, here and in the store (a short hash)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Reuse:
    """``texts`` split into the ones to embed (``todo``, each distinct text once) and the rest,
    whose vectors are known or come from a text of ``todo``."""

    texts: list[str]
    todo: list[int]  # indices into texts, one per distinct text still to embed
    known: dict[int, np.ndarray]  # index -> a vector embedded earlier in the run
    copies: dict[int, int]  # index -> the index in todo's texts whose vector it takes
    keys: list[str]  # the key of each text of todo, as remembered once it is embedded

    @property
    def todo_texts(self) -> list[str]:
        return [self.texts[i] for i in self.todo]


class RepeatedTexts:
    """The vectors of the texts embedded in one run, by text."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.reused = 0  # texts that took an earlier vector, for logs and benchmarks

    def plan(self, texts: Sequence[str]) -> Reuse:
        """Which of ``texts`` still need embedding."""
        texts = list(texts)
        todo: list[int] = []
        known: dict[int, np.ndarray] = {}
        copies: dict[int, int] = {}
        first: dict[str, int] = {}  # a text to embed -> its index
        for i, text in enumerate(texts):
            key = text_key(text)
            vector = self._vectors.get(key)
            if vector is not None:
                self._vectors.move_to_end(key)
                known[i] = vector
            elif key in first:
                copies[i] = first[key]
            else:
                first[key] = i
                todo.append(i)
        return Reuse(texts, todo, known, copies, list(first))

    def vectors(self, reuse: Reuse, embedded: Sequence[Sequence[float]]) -> list[list[float]]:
        """All of ``reuse.texts``' vectors, given ``embedded``, those of its ``todo`` texts in
        order; the new ones are remembered."""
        if len(embedded) != len(reuse.todo):
            raise ValueError(f"{len(embedded)} vectors for {len(reuse.todo)} texts")
        out: list[list[float]] = [[] for _ in reuse.texts]
        for i, key, vector in zip(reuse.todo, reuse.keys, embedded):
            out[i] = list(vector)
            self._remember(key, vector)
        for i, vector in reuse.known.items():
            out[i] = vector.tolist()
        for i, source in reuse.copies.items():
            out[i] = list(out[source])
        self.reused += len(reuse.known) + len(reuse.copies)
        return out

    def prime(self, vectors: Mapping[str, Sequence[float]]) -> None:
        """Remember vectors made before this run, by their texts' keys (``text_key``)."""
        for key, vector in vectors.items():
            self._vectors.pop(key, None)
            self._remember(key, vector)

    def _remember(self, key: str, vector: Sequence[float]) -> None:
        self._vectors[key] = np.asarray(vector, dtype=np.float32)  # a new key: it goes in last
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
