"""SIGTERM to a real ``twoshot worker`` process mid-task (every scale-down and rollout sends
one): it claims nothing more, finishes the task in hand within ``TWOSHOT_DRAIN_SECONDS`` or
hands it back (lease released, attempt not counted) for another worker, and exits 0 in time.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Live, couple_files, make_settings, start_live, stop_live
from tests.process import cli, env_for
from twoshot.domain import Task, TaskStatus
from twoshot.runtime import Runtime
from twoshot.service import NoChecks
from twoshot.worker.drain import HAND_BACK_SECONDS

pytestmark = pytest.mark.slow

ENGINE = "tests.engines:slow"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Live]:
    live = start_live(Runtime.build(make_settings(tmp_path, engine=ENGINE), checks=NoChecks()))
    yield live
    stop_live(live)


def submit(live: Live) -> str:
    r = httpx.post(f"{live.url}/api/couple_image", headers=live.headers, files=couple_files())
    assert r.status_code == 200, r.text
    return str(r.json()["task_id"])


def get(live: Live, task_id: str) -> Task:
    task = live.runtime.store.get_task(task_id)
    assert task is not None
    return task


class WorkerProcess:
    def __init__(self, live: Live, tmp_path: Path, *args: str, **env: str):
        self.engine_log = tmp_path / "engine.log"
        self.log = tmp_path / f"worker-{time.monotonic_ns()}.log"
        self.env = env_for(
            live.runtime.settings.data_dir,
            TWOSHOT_ENGINE=ENGINE,
            TWOSHOT_POLL_INTERVAL="0.05",
            TWOSHOT_LEASE_SECONDS="30",  # a hand-back must not wait for the lease to expire
            TWOSHOT_TEST_LOG=str(self.engine_log),
            **env,
        )
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "twoshot", "worker", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def started(self, task_id: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while f"start {task_id}" not in self._engine_lines():
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.05)

    def _engine_lines(self) -> str:
        return self.engine_log.read_text() if self.engine_log.exists() else ""

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took to exit."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"still running: {self.log.read_text()[-3000:]}") from None
        return code, time.monotonic() - sent

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_the_task_in_hand_is_finished_and_nothing_more_is_claimed(
    served: Live, tmp_path: Path
) -> None:
    first, second = submit(served), submit(served)
    worker = WorkerProcess(
        served,
        tmp_path,
        TWOSHOT_DRAIN_SECONDS="30",
        TWOSHOT_TEST_STEPS="15",
        TWOSHOT_TEST_STEP_SECONDS="0.1",
    )
    try:
        worker.started(first)
        code, took = worker.terminate(timeout=40)
    finally:
        worker.kill()
    assert code == 0, worker.log.read_text()[-3000:]
    assert took < 30  # it left when the task was done, not at the deadline
    done = get(served, first)
    assert (done.status, done.attempts) == (TaskStatus.COMPLETED, 1)
    left = get(served, second)
    assert (left.status, left.attempts, left.lease_owner) == (TaskStatus.QUEUED, 0, None)
    assert "processed 1 task(s)" in worker.log.read_text()


def handed_back(
    live: Live,
    tmp_path: Path,
    task_id: str,
    drain: float,
    steps: str,
    step_seconds: str,
    args: tuple[str, ...],
    env: dict[str, str],
) -> tuple[WorkerProcess, float]:
    """A worker on a task it cannot finish within ``drain``, sent SIGTERM mid-task: it exits
    0 and the task is back in the queue, its attempt not counted. The seconds it took."""
    worker = WorkerProcess(
        live,
        tmp_path,
        *args,
        TWOSHOT_DRAIN_SECONDS=str(drain),
        TWOSHOT_TEST_STEPS=steps,
        TWOSHOT_TEST_STEP_SECONDS=step_seconds,
        **env,
    )
    try:
        worker.started(task_id)
        code, took = worker.terminate(timeout=drain + HAND_BACK_SECONDS + 20)
    finally:
        worker.kill()
    assert code == 0, worker.log.read_text()[-3000:]
    back = get(live, task_id)
    assert (back.status, back.attempts, back.lease_owner) == (TaskStatus.QUEUED, 0, None)
    return worker, took


@pytest.mark.parametrize("remote", [False, True], ids=["database", "remote"])
def test_a_task_that_cannot_finish_in_time_is_handed_back_and_run_by_another_worker(
    served: Live, tmp_path: Path, remote: bool
) -> None:
    task_id = submit(served)
    args: tuple[str, ...] = ()
    extra = {}
    if remote:
        _, token = served.runtime.store.create_worker_token("drain")
        args = ("--server", served.url)
        extra["TWOSHOT_WORKER_TOKEN"] = token
    drain = 1.0
    # 300 steps of 0.1 s: far past the drain
    worker, took = handed_back(served, tmp_path, task_id, drain, "300", "0.1", args, extra)
    assert drain <= took < drain + HAND_BACK_SECONDS, took
    assert "handed back to the queue" in worker.log.read_text()

    # another worker takes it and completes it: nothing lost
    env = worker.env | {"TWOSHOT_TEST_STEPS": "2"}
    done = cli(env, "worker", "--burst", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    finished = get(served, task_id)
    assert (finished.status, finished.attempts) == (TaskStatus.COMPLETED, 1)
    lines = worker.engine_log.read_text().split("\n")
    assert sum(line.startswith(f"start {task_id}") for line in lines) == 2
    assert sum(line.startswith(f"end {task_id}") for line in lines) == 1


def test_an_engine_stuck_in_one_long_step_is_left_and_its_task_handed_back(
    served: Live, tmp_path: Path
) -> None:
    """No progress step to stop at: after the drain and the hand-back window the process
    releases the task itself and leaves, still with 0."""
    task_id = submit(served)
    drain = 0.5
    worker, took = handed_back(served, tmp_path, task_id, drain, "1", "120", (), {})
    assert drain + HAND_BACK_SECONDS <= took < drain + HAND_BACK_SECONDS + 5, took
    assert "handing back and leaving" in worker.log.read_text()
