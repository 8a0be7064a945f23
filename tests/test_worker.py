"""The worker loop: cancellation mid-run, engine failures, graceful hand-back, retention."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

from tests.conftest import Live, photo
from tests.engines import Crashing, Failing, Slow


def submit(live: Live) -> str:
    files = {
        "maleImage": ("m.jpg", photo("obama.jpg")),
        "femaleImage": ("f.jpg", photo("astronaut.jpg")),
    }
    r = httpx.post(f"{live.url}/api/couple_image", headers=live.headers, files=files)
    assert r.status_code == 200, r.text
    return str(r.json()["task_id"])


def status(live: Live, task_id: str) -> dict:
    return httpx.get(f"{live.url}/api/task-status/{task_id}", headers=live.headers).json()


def as_engine(engine, name: str):  # type: ignore[no-untyped-def]
    engine.name = name
    return engine


@pytest.fixture
def slow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSHOT_TEST_STEPS", "200")
    monkeypatch.setenv("TWOSHOT_TEST_STEP_SECONDS", "0.02")


def test_cancel_stops_a_running_task(live: Live, slow_env: None) -> None:
    task_id = submit(live)
    rt = live.runtime
    rt.settings.lease_seconds = 0.3  # heartbeats every 0.1 s
    worker = rt.make_worker(as_engine(Slow(), rt.settings.engine))
    thread = threading.Thread(target=worker.run, kwargs={"burst": True})
    thread.start()
    while status(live, task_id)["status"] != "processing":
        time.sleep(0.02)
    while status(live, task_id)["progress"] == 0:
        time.sleep(0.02)
    started = time.time()
    r = httpx.post(f"{live.url}/api/task/{task_id}/cancel", headers=live.headers)
    assert r.status_code == 200
    thread.join(10)
    assert time.time() - started < 2  # the remaining 4 s of work were skipped
    body = status(live, task_id)
    assert body["status"] == "canceled" and body["image_url"] is None and 0 < body["progress"] < 1


def test_engine_errors_fail_the_task_with_their_code(live: Live) -> None:
    rt = live.runtime
    a = submit(live)
    rt.make_worker(as_engine(Failing(), rt.settings.engine)).run(burst=True)
    assert status(live, a)["error"] == {
        "code": "fixture_refused",
        "message": "the fixture engine refuses",
    }
    b = submit(live)
    rt.make_worker(as_engine(Crashing(), rt.settings.engine)).run(burst=True)
    body = status(live, b)
    assert body["status"] == "failed" and body["error"]["code"] == "engine_error"
    assert "boom" not in body["error"]["message"]  # internals stay in the log


def test_stop_now_hands_the_task_back(live: Live, slow_env: None) -> None:
    task_id = submit(live)
    rt = live.runtime
    rt.settings.lease_seconds = 0.3  # progress reaches the store with each heartbeat
    worker = rt.make_worker(as_engine(Slow(), rt.settings.engine))
    thread = threading.Thread(target=worker.run)
    thread.start()
    while status(live, task_id)["progress"] == 0:
        time.sleep(0.02)
    worker.stop(now=True)
    thread.join(10)
    body = status(live, task_id)
    assert body["status"] == "queued" and body["attempts"] == 0
    assert live.drain() == 1 and status(live, task_id)["status"] == "completed"


def test_missing_input_fails_clearly(live: Live) -> None:
    task_id = submit(live)
    for key, _age in list(live.runtime.blobs.input_ages()):
        live.runtime.blobs.delete_input(key)
    live.drain()
    assert status(live, task_id)["error"]["code"] == "input_missing"


def test_retention_sweep(live: Live) -> None:
    task_id = submit(live)
    live.drain()
    url = status(live, task_id)["image_url"]
    assert httpx.get(url).status_code == 200
    service = live.runtime.service
    # the result is past its time: served no more, even before a sweep
    service.retention.result_ttl = 0.0
    assert httpx.get(url).status_code == 404
    orphan = "f" * 64
    live.runtime.blobs.put_input(orphan, b"x")
    assert service.sweep(result_ttl=0.0, input_grace=3600) == (1, 0)
    assert service.sweep(result_ttl=0.0, input_grace=0) == (0, 1)
    body = status(live, task_id)
    assert body["status"] == "completed" and body["image_url"] is None and body["result_expired"]


def test_keys_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.process import cli, env_for

    env = env_for(tmp_path)
    created = cli(env, "keys", "create", "--name", "mobile app")
    assert created.returncode == 0
    secret = created.stdout.strip()
    assert "\n" not in secret and secret.startswith("ts_")
    listed = cli(env, "keys", "list").stdout
    assert "mobile app" in listed and "active" in listed and secret not in listed
    key_id = listed.split()[0]
    assert cli(env, "keys", "revoke", key_id).returncode == 0
    assert "revoked" in cli(env, "keys", "list").stdout
    assert cli(env, "keys", "revoke", "nope").returncode != 0
    assert os.path.exists(tmp_path / "twoshot.db")
