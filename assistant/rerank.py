"""Optional cross-encoder reranking, for users who have a model on disk.

No PyPI package carries cross-encoder weights (measured), so none ships and this is off by
default; ``REPORTS_QA_RERANK_MODEL=/path/to/model`` turns it on. Loaded from the local folder
only, never from a hub.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.documents import Document

from assistant.backend import BackendError


class Reranker:
    def __init__(self, path: Path) -> None:
        if not (Path(path) / "config.json").is_file():
            raise BackendError(
                f"REPORTS_QA_RERANK_MODEL={path} is not a model folder (no config.json); "
                "point it at a local cross-encoder, or unset it"
            )
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(path), device="cpu", local_files_only=True)

    def rerank(self, query: str, docs: Sequence[Document]) -> list[Document]:
        """``docs`` best first by the cross-encoder; its score lands in ``metadata["rerank"]``."""
        if not docs:
            return []
        scores = self.model.predict([(query, d.page_content) for d in docs], show_progress_bar=False)
        for doc, score in zip(docs, scores):
            doc.metadata["rerank"] = float(score)
        return sorted(docs, key=lambda d: -d.metadata["rerank"])
