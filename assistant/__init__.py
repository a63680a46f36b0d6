"""Answers with verified citations: ``from assistant import Assistant``.

Imported lazily so that ``assistant.models`` and friends stay cheap to import (the UI and eval
read the models without loading torch or Chroma).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.models import Answer, Citation, Passage
    from assistant.pipeline import Assistant

__all__ = ["Answer", "Assistant", "Citation", "Passage"]


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from assistant.pipeline import Assistant

        return Assistant
    if name in {"Answer", "Citation", "Passage"}:
        from assistant import models

        return getattr(models, name)
    raise AttributeError(name)
