"""The live routes under a hostile or stale client: a Last-Event-ID that is not ASCII
digits, and waiters whose key is revoked or whose account is disabled while they wait."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest

from tests.conftest import Live, couple_files
from tests.test_live import slow_live, sse  # noqa: F401  (slow_live is a fixture)
from twoshot.api.live import Cursor

FILES = couple_files()


def test_last_event_id_is_ascii_digits_of_bounded_length() -> None:
    assert Cursor.parse("250").progress == 250 and Cursor.parse("0").progress == 0
    assert Cursor.parse("12.3").item == (12, 3)
    hostile = ("", "²", "\u0663", "12a", "-1", " 5", "9" * 10, "1" * 5000, "end")
    for text in (*hostile, *(f"{h}.1" for h in hostile), *(f"1.{h}" for h in hostile)):
        cursor = Cursor.parse(text)
        assert (cursor.item, cursor.progress) == ((-1, -1), -1), text


def test_a_hostile_last_event_id_starts_the_stream_afresh(
    slow_live: Live,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    task_id = httpx.post(
        f"{slow_live.url}/api/couple_image", headers=slow_live.headers, files=FILES
    ).json()["task_id"]
    url = f"{slow_live.url}/api/task-status/{task_id}/events"
    with caplog.at_level(logging.ERROR):
        for resume in (b"\xb2", b"1" * 4000):  # the byte \xb2 arrives, read as Latin-1: "²"
            events = sse(url, {**slow_live.headers, "Last-Event-ID": resume})  # type: ignore[dict-item]
            assert events[-1][1] == "done" and events[-1][2]["status"] == "completed"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_stream_stops_when_its_key_is_revoked(slow_live: Live) -> None:  # noqa: F811
    secret = slow_live.new_key("soon revoked")
    headers = {"X-Api-Key": secret}
    task_id = httpx.post(f"{slow_live.url}/api/couple_image", headers=headers, files=FILES).json()[
        "task_id"
    ]
    url = f"{slow_live.url}/api/task-status/{task_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as r:
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("event: progress"):
                break
        key = slow_live.runtime.store.authenticate(secret)
        assert key is not None
        slow_live.runtime.store.revoke_key(key.id)
        rest = "\n".join(lines)
    assert "event: error" in rest and '"unauthorized"' in rest
    assert "event: done" not in rest and "image_url" not in rest


@pytest.mark.parametrize("how", ["revoke", "disable"])
def test_a_waiting_client_whose_key_dies_gets_401(live: Live, how: str) -> None:
    rt = live.runtime
    account, _ = rt.accounts.create(f"{how}@example.com")
    key, secret = rt.store.create_key("waiting", account.id)
    answers: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{live.url}/api/couple_image",
                headers={"X-Api-Key": secret, "Prefer": "wait=20"},
                files=FILES,
                timeout=60,
            )
        )
    )
    waiter.start()
    deadline = time.time() + 20
    while rt.events.waiting < 1:
        assert time.time() < deadline
        time.sleep(0.05)
    if how == "revoke":
        rt.store.revoke_key(key.id)
    else:
        rt.accounts.set_disabled(account.id, True)
    live.drain()  # the task completes: the waiter wakes, and must not get its body
    waiter.join(30)
    [answer] = answers
    assert answer.status_code == 401, answer.text
    assert "image_url" not in answer.text
