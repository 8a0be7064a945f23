"""Local checkpoints in their published layout: nothing is ever downloaded. A missing or
incomplete directory stops the worker at start with a message naming each missing file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class ModelDirError(RuntimeError):
    pass


def missing_files(model_dir: Path, required: Sequence[str]) -> list[str]:
    """``required``: paths or globs, alternatives separated by "|"."""
    missing = []
    for entry in required:
        if not any(any(model_dir.glob(alt)) for alt in entry.split("|")):
            missing.append(entry.replace("|", " or "))
    return missing


def check_model_dir(
    model_dir: Path | None, required: Sequence[str], *, setting: str, what: str
) -> Path:
    """``setting``: the variable that names the directory; ``what``: the model it holds."""
    if model_dir is None:
        raise ModelDirError(
            f"this engine needs {setting}: a local copy of {what} in its own layout; "
            "twoshot never downloads weights"
        )
    if not model_dir.is_dir():
        raise ModelDirError(f"{setting} {model_dir} is not a directory")
    missing = missing_files(model_dir, required)
    if missing:
        raise ModelDirError(f"{setting} {model_dir} is incomplete; missing: {', '.join(missing)}")
    return model_dir
