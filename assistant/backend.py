"""The one interface every answer backend implements.

A backend writes a *draft*: answer text whose claims carry ``[n]`` markers naming the numbered
passages it was given. It never decides what is cited; ``assistant.verify`` does, the same way
for every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from assistant.models import Message, Passage


class BackendError(Exception):
    """A backend cannot run: model missing, server down. The message says what to do."""


class AnswerBackend(Protocol):
    name: str

    def draft(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> str:
        """The whole draft at once."""
        ...

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()
    ) -> Iterator[str]:
        """The draft as it is written, piece by piece (the pieces join to ``draft``'s result)."""
        ...

    def condense(self, question: str, history: Sequence[Message]) -> str:
        """A follow-up rewritten as a question that stands on its own."""
        ...
