"""Where image bytes live: content-addressed inputs and random-named results.

``LocalBlobs`` (a directory) is the embedded default; an S3-compatible store implements the
same ``Blobs`` protocol.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

__all__ = ["Blobs", "LocalBlobs", "is_input_key", "is_result_name", "new_result_name"]

# matched in full (``$`` would let a trailing newline through)
_RESULT_NAME = re.compile(r"[A-Za-z0-9_-]{32}\.jpg")
_INPUT_KEY = re.compile(r"[0-9a-f]{64}")


def new_result_name() -> str:
    """Unguessable: 192 random bits."""
    return secrets.token_urlsafe(24) + ".jpg"


def is_input_key(key: str) -> bool:
    """An input's content address: a sha256 in lowercase hex."""
    return bool(_INPUT_KEY.fullmatch(key))


def is_result_name(name: str) -> bool:
    return bool(_RESULT_NAME.fullmatch(name))


class Blobs(Protocol):
    def put_input(self, key: str, data: bytes) -> None: ...
    def get_input(self, key: str) -> bytes: ...
    def delete_input(self, key: str) -> None: ...
    def input_ages(self) -> Iterator[tuple[str, float]]: ...
    def put_result(self, name: str, data: bytes) -> None: ...
    def get_result(self, name: str) -> bytes | None: ...
    def delete_result(self, name: str) -> None: ...
    def result_ages(self) -> Iterator[tuple[str, float]]: ...
    def check_writable(self) -> None: ...  # raises when a write would fail


class LocalBlobs:
    def __init__(self, root: Path):
        self._inputs = root / "inputs"
        self._results = root / "results"
        self._inputs.mkdir(parents=True, exist_ok=True)
        self._results.mkdir(parents=True, exist_ok=True)

    def _input_path(self, key: str) -> Path:
        if not is_input_key(key):
            raise ValueError(f"not an input key: {key!r}")
        return self._inputs / key[:2] / f"{key}.jpg"

    def _result_path(self, name: str) -> Path:
        if not is_result_name(name):
            raise ValueError(f"not a result name: {name!r}")
        return self._results / name

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_input(self, key: str, data: bytes) -> None:
        path = self._input_path(key)
        if path.exists():
            # content-addressed: same key, same bytes. Refresh the age the sweeper reads.
            os.utime(path)
            return
        self._write_atomic(path, data)

    def get_input(self, key: str) -> bytes:
        return self._input_path(key).read_bytes()

    def delete_input(self, key: str) -> None:
        self._input_path(key).unlink(missing_ok=True)

    def input_ages(self) -> Iterator[tuple[str, float]]:
        now = time.time()
        for path in self._inputs.glob("*/*.jpg"):
            try:
                yield path.stem, now - path.stat().st_mtime
            except FileNotFoundError:
                continue

    def put_result(self, name: str, data: bytes) -> None:
        self._write_atomic(self._result_path(name), data)

    def check_writable(self) -> None:
        """Write and remove a small file where inputs and results go (a full or read-only
        disk raises here, as a real write would)."""
        for folder in (self._inputs, self._results):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".probe-")
            try:
                os.write(fd, b"\0" * 4096)
                os.fsync(fd)
            finally:
                os.close(fd)
                Path(tmp).unlink(missing_ok=True)

    def get_result(self, name: str) -> bytes | None:
        try:
            return self._result_path(name).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def delete_result(self, name: str) -> None:
        self._result_path(name).unlink(missing_ok=True)

    def result_ages(self) -> Iterator[tuple[str, float]]:
        now = time.time()
        for path in self._results.glob("*.jpg"):
            try:
                yield path.name, now - path.stat().st_mtime
            except FileNotFoundError:
                continue
