"""SIGKILL the server mid-work; on restart every accepted task ends, none completes twice."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import photo
from tests.process import Server, cli, env_for

pytestmark = pytest.mark.slow


def test_sigkill_loses_nothing_and_completes_nothing_twice(tmp_path: Path) -> None:
    env = env_for(
        tmp_path / "data",
        TWOSHOT_ENGINE="tests.engines:slow",
        TWOSHOT_TEST_STEPS="10",
        TWOSHOT_TEST_STEP_SECONDS="0.08",
        TWOSHOT_LEASE_SECONDS="1.5",
        TWOSHOT_POLL_INTERVAL="0.05",
        TWOSHOT_FACE_CHECKS="false",
        TWOSHOT_TEST_LOG=str(tmp_path / "engine.log"),
    )
    key = cli(env, "keys", "create", "--name", "durability").stdout.strip()
    headers = {"X-Api-Key": key}
    log = tmp_path / "serve.log"
    server = Server(env, log, "--workers", "2")
    files = {
        "maleImage": ("m.jpg", photo("obama.jpg")),
        "femaleImage": ("f.jpg", photo("astronaut.jpg")),
    }
    ids = []
    for _ in range(10):
        r = httpx.post(f"{server.url}/api/couple_image", headers=headers, files=files)
        assert r.status_code == 200, r.text
        ids.append(r.json()["task_id"])

    # kill while some tasks are done, some running, some queued
    deadline = time.time() + 60
    while time.time() < deadline:
        states = [
            httpx.get(f"{server.url}/api/task-status/{t}", headers=headers).json()["status"]
            for t in ids
        ]
        if "completed" in states and "processing" in states:
            break
        time.sleep(0.05)
    assert "queued" in states and "processing" in states, states
    server.kill()

    server = Server(env, log, "--workers", "2")
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            bodies = [
                httpx.get(f"{server.url}/api/task-status/{t}", headers=headers).json() for t in ids
            ]
            if all(b["status"] in ("completed", "failed", "canceled") for b in bodies):
                break
            time.sleep(0.2)
        assert [b["status"] for b in bodies] == ["completed"] * len(ids), bodies
        for b in bodies:
            assert httpx.get(b["image_url"]).status_code == 200
        assert any(b["attempts"] == 2 for b in bodies)  # the ones the kill interrupted ran again
    finally:
        server.stop()
    completions = re.findall(r"task ([0-9a-f]{32}) completed", log.read_text())
    assert sorted(completions) == sorted(ids), "each task completes exactly once"
