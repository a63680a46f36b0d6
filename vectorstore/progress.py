"""What an ingest tells a front end as it goes, and the count a progress bar shows.

Kept apart from the indexer so a front end can define its bar without loading the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vectorstore.indexer import IngestResult


class IngestProgress:
    """Callbacks a front end can implement to show progress; the default does nothing.

    Files are done in order, but a file's ``file_done`` can come after the next file has
    started and embedded some chunks: a report is written while the next one embeds.
    """

    def file_started(self, source: str, index: int, total: int) -> None: ...

    def chunks_planned(self, source: str, n: int) -> None:
        """``n`` texts of ``source`` are to be embedded: its chunks, sentences and list items."""

    def chunks_embedded(self, n: int) -> None:
        """``n`` more of them are embedded."""

    def file_done(self, result: IngestResult) -> None: ...


class ProgressCount(IngestProgress):
    """How far a run is, in files, for a bar (``fraction``, 0..total): each file done counts
    whole, as does one embedded and waiting for its write, and the file embedding counts by
    its share of passages embedded."""

    def __init__(self) -> None:
        self.total = self.done = self.planned = self.embedded = 0
        self.name = ""  # the file started last
        self._started = self._embedding = -1  # indexes of the file started last, and the one counted
        self._waiting = 0  # files embedded, not yet done (their write is in flight)

    @property
    def fraction(self) -> float:
        return self.done + self._waiting + (self.embedded / self.planned if self.planned else 0.0)

    def file_started(self, source: str, index: int, total: int) -> None:
        self.name, self._started, self.total = source, index, total

    def chunks_planned(self, source: str, n: int) -> None:
        if self._embedding not in (self._started, -1) and self._embedding >= self.done:
            self._waiting += 1
        self.name, self.planned, self.embedded, self._embedding = source, n, 0, self._started

    def chunks_embedded(self, n: int) -> None:
        self.embedded += n

    def file_done(self, result: IngestResult) -> None:
        if self._embedding == self.done:  # files are done in order: this is the one counted
            self.planned = self.embedded = 0
        elif self._waiting and self.done < self._embedding:
            self._waiting -= 1
        self.done += 1
