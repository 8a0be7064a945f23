"""Logs carry task ids, never prompts, photo URLs or image bytes; JSON lines on request."""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest

from tests.conftest import Live, photo
from tests.process import cli, env_for
from twoshot.logs import JsonFormatter


def test_no_prompts_urls_or_bytes_in_the_logs(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    from tests.conftest import DATA
    from tests.servers import serve_directory

    caplog.set_level(logging.DEBUG)
    prompt = "SECRET-PROMPT-words-of-the-user"
    with serve_directory(DATA) as files:
        url = f"{files}/obama.jpg?private-token=abc123"
        body = {
            "maleImages": [url],
            "femaleImages": [
                "data:image/jpeg;base64," + base64.b64encode(photo("astronaut.jpg")).decode()
            ],
            "items": [{"maleIndex": 0, "femaleIndex": 0, "prompt": prompt}],
        }
        r = httpx.post(f"{live.url}/api/couple_image/batch", headers=live.headers, json=body)
        assert r.status_code == 200, r.text
        bad = httpx.post(
            f"{live.url}/api/couple_image/batch",
            headers=live.headers,
            json={**body, "maleImages": [f"{files}/missing.jpg?private-token=abc123"]},
        )
        assert bad.status_code == 400
    live.drain()
    task_id = r.json()["task_ids"][0]
    text = "\n".join(rec.getMessage() for rec in caplog.records if rec.levelno >= logging.INFO)
    assert task_id in text  # what happened is traceable
    for secret in (prompt, "private-token", "abc123", "obama.jpg", "/9j/"):
        assert secret not in text


def test_json_lines() -> None:
    record = logging.LogRecord(
        "twoshot.worker", logging.INFO, __file__, 1, "task %s completed", ("abc",), None
    )
    record.task_id = "abc"
    entry = json.loads(JsonFormatter().format(record))
    assert (
        entry["message"] == "task abc completed"
        and entry["level"] == "info"
        and entry["task_id"] == "abc"
    )


def test_cli_honours_the_log_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = env_for(tmp_path, TWOSHOT_LOG_FORMAT="json", TWOSHOT_ENGINE="tests.engines:sidebyside")
    run = cli(env, "worker", "--burst")
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("{")]
    assert lines and all(json.loads(line)["logger"] for line in lines)
