"""Leaks and small races (issue #20). Each test is named after a defect it reproduces on
d4ba9d6."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import couple_files, make_settings, working_server
from tests.store.test_contract import opened_store, task
from tests.test_live_order import Reader, served, wait_until
from twoshot.api import create_app
from twoshot.domain import Account
from twoshot.errors import Conflict
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


def test_a_lost_idempotency_race_takes_its_count_back(tmp_path: Path) -> None:
    """Was: the request that lost the race answered with the winner's tasks but kept its
    own count against the key's quota."""
    rt = Runtime.build(make_settings(tmp_path, quota_per_day=100), checks=NoChecks())
    with TestClient(create_app(rt)) as client:
        key, secret = rt.store.create_key("k")
        headers = {"X-Api-Key": secret, "Idempotency-Key": "once"}
        first = client.post("/api/couple_image", files=couple_files(), headers=headers).json()
        real = rt.store.idempotent_response
        checks: list[object] = []

        def not_yet(idem):  # type: ignore[no-untyped-def]
            """The second request looks before the first has committed."""
            checks.append(idem)
            return None if len(checks) == 1 else real(idem)

        rt.store.idempotent_response = not_yet  # type: ignore[method-assign]
        again = client.post("/api/couple_image", files=couple_files(), headers=headers).json()
        assert again == first and len(checks) == 1  # the store found the first in its transaction
        day = f"d:{int(time.time() // 86400)}"
        assert rt.store.counted(f"key:{key.id}", day) == 1


def test_event_stream_sends_progress_again_when_a_task_is_retried(tmp_path: Path) -> None:
    """Was: the stream's cursor was the progress alone: a retry's 0.2 after the first
    run's 0.6 was never sent. Now the id counts claims, so a new run starts above it."""
    with served(tmp_path, time.time) as live:
        rt = live.runtime
        rt.settings.live_recheck = 0.05
        task_id = httpx.post(
            f"{live.url}/api/couple_image", headers=live.headers, files=couple_files()
        ).json()["task_id"]
        reader = Reader(f"{live.url}/api/task-status/{task_id}/events", live.headers)
        engine = [rt.settings.engine]

        def progress() -> list[float]:
            return [e[2]["progress"] for e in reader.events if e[1] == "progress"]

        assert rt.store.claim("w1", engine, 30) is not None
        rt.store.heartbeat(task_id, "w1", 0.6, 30)
        wait_until(lambda: 0.6 in progress())
        assert rt.store.release(task_id, "w1")  # handed back: the next run starts over
        assert rt.store.claim("w2", engine, 30) is not None
        rt.store.heartbeat(task_id, "w2", 0.2, 30)
        wait_until(lambda: progress()[-1:] == [0.2])
        from twoshot.domain import TaskStatus

        assert rt.store.finish(task_id, "w2", TaskStatus.CANCELED)
        reader.thread.join(10)
        assert reader.events[-1][1] == "done"
        ids = [int(e[0]) for e in reader.events if e[1] == "progress"]
        assert ids == sorted(ids)  # resumable: every id above the one before


@pytest.fixture
def slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("TWOSHOT_TEST_STEPS", "20")
    monkeypatch.setenv("TWOSHOT_TEST_STEP_SECONDS", "0.05")
    settings = make_settings(tmp_path, engine="tests.engines:slow", lease_seconds=0.5)
    yield Runtime.build(settings, checks=NoChecks())


def test_events_keep_no_progress_of_a_task_deleted_while_running(slow: Runtime) -> None:
    """Was: ``TaskEvents._progress`` dropped a task when it ended, but its worker went on
    reporting until it noticed: one entry per task deleted while running, for good."""
    with working_server(slow) as live:
        task_id = httpx.post(
            f"{live.url}/api/couple_image", headers=live.headers, files=couple_files()
        ).json()["task_id"]
        worker = slow.workers[-1]
        wait_until(lambda: worker.state.value == "running")
        time.sleep(0.2)  # some progress reported
        deleted = httpx.delete(f"{live.url}/api/task/{task_id}", headers=live.headers)
        assert deleted.status_code == 204
        wait_until(lambda: worker.processed == 1)
        assert slow.events._progress == {}


def test_two_concurrent_account_creations_with_one_email_conflict_on_postgresql(
    tmp_path: Path,
) -> None:
    """Was: both passed the check, one insert hit the unique index: a 500, not a 409."""
    with opened_store("postgresql", tmp_path) as (store, _clock):
        for round_ in range(20):
            start = threading.Barrier(6)
            outcomes: list[object] = []

            def create(
                email: str, start: threading.Barrier = start, outcomes: list[object] = outcomes
            ) -> None:
                start.wait()
                try:
                    outcomes.append(store.create_account(email))
                except Exception as exc:
                    outcomes.append(exc)

            email = f"same{round_}@example.com"
            threads = [threading.Thread(target=create, args=(email,)) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert sum(isinstance(o, Account) for o in outcomes) == 1
            assert all(isinstance(o, Account | Conflict) for o in outcomes), outcomes


def test_canceling_a_batch_ends_its_tasks_in_one_transaction(
    tmp_path: Path, image_server: str
) -> None:
    """Was: one transaction per task; a stream could see a batch half canceled."""
    rt = Runtime.build(make_settings(tmp_path), checks=NoChecks())
    with TestClient(create_app(rt)) as client:
        secret = rt.store.create_key("k")[1]
        body = {
            "personImages": [f"{image_server}/obama.jpg"],
            "promptData": [{"prompt": p} for p in "abc"],
        }
        headers = {"X-Api-Key": secret}
        batch = client.post("/api/person_image_batch", headers=headers, json=body).json()
        commits: list[int] = []
        rt.store.on_ended(lambda ended: commits.append(len(ended)))
        canceled = client.post(f"/api/task/{batch['task_id']}/cancel", headers=headers)
        assert canceled.json()["status"] == "canceled"
        assert commits == [3]


def test_the_queues_worker_map_is_safe_across_threads_postgresql(tmp_path: Path) -> None:
    """Was: ``_seen`` was read, written and rebuilt (past 1000 owners) by concurrent claims
    without a lock: 'dictionary changed size during iteration'."""
    with opened_store("postgresql", tmp_path) as (store, _clock):
        key_id = store.create_key("k")[0].id
        store.submit([task(key_id, 0, engine="none")], None, "{}")
        errors: list[BaseException] = []

        def claims(n: int) -> None:
            try:
                for i in range(300):
                    store.claim(f"w{n}-{i}", ["e"], 30)
            except BaseException as exc:
                errors.append(exc)

        switching = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads interleave inside any Python loop
        try:
            threads = [threading.Thread(target=claims, args=(n,)) for n in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        finally:
            sys.setswitchinterval(switching)
        assert errors == []
