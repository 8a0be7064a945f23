"""A blob store that refuses writes: tasks end with ``storage_error`` (not ``engine_error``),
and ``/readyz`` answers 503 so a balancer stops sending work to the replica."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import Live, couple_files
from tests.test_blobs import blobs  # noqa: F401  (a fixture: local and S3)
from twoshot.api import ops
from twoshot.blobs import Blobs


def test_both_blob_stores_say_whether_they_take_writes(blobs: Blobs) -> None:  # noqa: F811
    blobs.check_writable()  # and leaves nothing behind
    assert list(blobs.result_ages()) == [] and list(blobs.input_ages()) == []


def test_a_full_or_broken_result_store_ends_tasks_with_storage_error(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops, "BLOB_CHECK_EVERY", 0.0)
    assert httpx.get(f"{live.url}/readyz").status_code == 200
    task = httpx.post(
        f"{live.url}/api/couple_image", headers=live.headers, files=couple_files()
    ).json()["task_id"]
    results = live.runtime.settings.data_dir / "blobs" / "results"
    shutil.rmtree(results)
    results.write_bytes(b"")  # where the folder was: every write there fails, even as root
    try:
        live.drain()
        body = httpx.get(f"{live.url}/api/task-status/{task}", headers=live.headers).json()
        ready = httpx.get(f"{live.url}/readyz")
    finally:
        results.unlink()
        results.mkdir()
    assert body["status"] == "failed" and body["error"]["code"] == "storage_error"
    assert body["error"]["message"].startswith("the result could not be stored (FileExists")
    assert ready.status_code == 503
    assert ready.json()["checks"]["blobs"].startswith("failing: ")
    assert httpx.get(f"{live.url}/readyz").json()["checks"]["blobs"] == "ok"


def test_the_check_is_not_a_write_per_poll(live: Live, tmp_path: Path) -> None:
    calls = []
    real = live.runtime.blobs.check_writable

    def counted() -> None:
        calls.append(1)
        real()

    live.runtime.blobs.check_writable = counted  # type: ignore[method-assign]
    for _ in range(5):
        assert httpx.get(f"{live.url}/readyz").status_code == 200
    assert len(calls) <= 2
