"""Okapi BM25 over the store's chunks, in plain Python.

Dense MiniLM vectors miss exact words ("inspectors", "3.11", "PLO"); keyword ranks fused with
them fix most of it. An inverted index of dicts needs no extra package and is fast enough into
the hundreds of thousands of chunks (bench/bench_growth.py measures it).

Documents can be added and removed one at a time, so a reader whose store gained one report
updates the postings of that report's terms instead of rebuilding them all. Every score depends
only on the documents held, not on the order they came in, and ties rank by each document's
``key``, so an index updated in place ranks exactly as one built afresh from the same documents.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import Any


class BM25:
    """Documents live in integer slots (what ``top`` and ``scores`` return); a removed
    document's slot is reused. ``BM25(docs)`` puts ``docs[i]`` in slot ``i`` with key ``i``."""

    def __init__(self, documents: Iterable[Sequence[str]] = (), *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.postings: dict[str, dict[int, int]] = {}  # term -> {slot: term frequency}
        self.lengths: list[int] = []  # by slot; 0 for a free slot
        self.keys: list[Any] = []  # by slot: ties rank by key, ascending; None for a free slot
        self.size = 0
        self.total_length = 0
        self._free: list[int] = []
        self._norms: list[float] | None = None  # by slot, for the current average length
        for i, doc in enumerate(documents):
            self.add(doc, key=i)

    @property
    def avg_length(self) -> float:
        return self.total_length / self.size if self.size else 0.0

    def add(self, tokens: Sequence[str], *, key: Hashable) -> int:
        """Index one document; returns its slot. ``key`` must be unique and orderable with the others."""
        slot = self._free.pop() if self._free else len(self.lengths)
        if slot == len(self.lengths):
            self.lengths.append(0)
            self.keys.append(None)
        for term, tf in Counter(tokens).items():
            self.postings.setdefault(term, {})[slot] = tf
        self.lengths[slot] = len(tokens)
        self.keys[slot] = key
        self.size += 1
        self.total_length += len(tokens)
        self._norms = None
        return slot

    def remove(self, slot: int, tokens: Sequence[str]) -> None:
        """Take the document in ``slot`` out; ``tokens`` are the ones it was added with.

        The index keeps no copy of each document's terms (that would double its memory); the
        caller, which keeps the text, tokenises it again. Tokens that differ are an error.
        """
        counts = Counter(tokens)
        if self.keys[slot] is None or len(tokens) != self.lengths[slot] or any(
            self.postings.get(term, {}).get(slot) != tf for term, tf in counts.items()
        ):
            raise ValueError(f"slot {slot} does not hold a document with these tokens")
        for term in counts:
            docs = self.postings[term]
            del docs[slot]
            if not docs:
                del self.postings[term]
        self.size -= 1
        self.total_length -= self.lengths[slot]
        self.lengths[slot] = 0
        self.keys[slot] = None
        self._free.append(slot)
        self._norms = None

    def idf(self, term: str) -> float:
        n = len(self.postings.get(term, ()))
        return math.log(1 + (self.size - n + 0.5) / (n + 0.5))

    def _length_norms(self) -> list[float]:
        """k1 * (1 - b + b * length / average length) per slot, computed once per change."""
        if self._norms is None:
            k1, b, avg = self.k1, self.b, self.avg_length or 1.0
            self._norms = [k1 * (1 - b + b * length / avg) for length in self.lengths]
        return self._norms

    def scores(self, query: Sequence[str], allowed: Collection[int] | None = None) -> dict[int, float]:
        """Score of every document sharing a term with ``query`` (restricted to ``allowed`` slots)."""
        out: dict[int, float] = defaultdict(float)
        if not self.size:
            return out
        norms = self._length_norms()
        boost = self.k1 + 1
        for term in dict.fromkeys(query):  # in query order: a float sum in hash order differs run to run
            docs = self.postings.get(term)
            if not docs:
                continue
            idf = self.idf(term)
            if allowed is None:
                pairs: Iterable[tuple[int, int]] = docs.items()
            elif len(allowed) < len(docs):
                pairs = ((i, docs[i]) for i in allowed if i in docs)
            else:
                pairs = ((i, tf) for i, tf in docs.items() if i in allowed)
            for i, tf in pairs:
                out[i] += idf * tf * boost / (tf + norms[i])
        return out

    def top(self, query: Sequence[str], n: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``n`` best (slot, score): score descending, then key ascending.

        A heap finds the n-th best score without sorting every match; only the matches that
        reach it are sorted, ties by key.
        """
        if n < 1:
            return []
        scored = self.scores(query, allowed)
        if len(scored) > n:
            cutoff = heapq.nlargest(n, scored.values())[-1]
            best = [(i, s) for i, s in scored.items() if s >= cutoff]
        else:
            best = list(scored.items())
        keys = self.keys
        best.sort(key=lambda kv: (-kv[1], keys[kv[0]]))
        return best[:n]
