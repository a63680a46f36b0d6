"""Okapi BM25 over the store's chunks, in plain Python.

Dense MiniLM vectors miss exact words ("inspectors", "3.11", "PLO"); keyword ranks fused with
them fix most of it. A corpus of council reports is thousands of chunks, not millions, so an
inverted index of dicts is fast enough (see bench/bench_ask.py) and needs no extra package.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence


class BM25:
    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.size = len(documents)
        self.lengths = [len(d) for d in documents]
        self.avg_length = (sum(self.lengths) / self.size) if self.size else 0.0
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                self.postings[term].append((i, tf))

    def idf(self, term: str) -> float:
        n = len(self.postings.get(term, ()))
        return math.log(1 + (self.size - n + 0.5) / (n + 0.5))

    def scores(self, query: Sequence[str], allowed: Collection[int] | None = None) -> dict[int, float]:
        """Score of every document sharing a term with ``query`` (restricted to ``allowed``)."""
        out: dict[int, float] = defaultdict(float)
        if not self.size:
            return out
        for term in set(query):
            idf = self.idf(term)
            for i, tf in self.postings.get(term, ()):
                if allowed is not None and i not in allowed:
                    continue
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg_length)
                out[i] += idf * tf * (self.k1 + 1) / (tf + norm)
        return out

    def top(self, query: Sequence[str], n: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        scored = self.scores(query, allowed)
        return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
