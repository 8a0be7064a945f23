"""``twoshot serve --processes 2`` for real, on one SQLite file and on PostgreSQL: both API
processes serve, the worker process finishes every task, every webhook is sent exactly
once, and one process sweeps (each expired result deleted once)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import couple_files
from tests.process import Server, env_for
from tests.store.test_contract import postgres_schema
from tests.test_webhooks import Receiver
from twoshot.store import open_store

pytestmark = pytest.mark.slow

TASKS = 6


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'data' / 'twoshot.db'}"


def wait_for(check: object, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while not check():  # type: ignore[operator]
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def keyed_env(tmp_path: Path, database: str, **extra: str) -> tuple[str, dict[str, str]]:
    """A key in ``database`` and the environment of a server on it with the fast test engine."""
    store = open_store(database)
    key = store.create_key("test")[1]
    store.close()
    env = env_for(
        tmp_path / "data",
        TWOSHOT_DATABASE_URL=database,
        TWOSHOT_ENGINE="tests.engines:sidebyside",
        TWOSHOT_FACE_CHECKS="false",
        TWOSHOT_POLL_INTERVAL="0.05",
        **extra,
    )
    return key, env


def test_two_api_processes_serve_finish_and_sweep_once(tmp_path: Path, database: str) -> None:
    key, env = keyed_env(
        tmp_path,
        database,
        TWOSHOT_FETCH_ALLOW_PRIVATE="true",
        TWOSHOT_SWEEP_INTERVAL="0.2",
        TWOSHOT_RESULT_TTL="1",
        TWOSHOT_WEBHOOK_BACKOFF="0.2",
    )
    log = tmp_path / "serve.log"
    with ExitStack() as stack:
        receiver = Receiver()  # answers 500 once: one retry, by the one sender
        stack.callback(receiver.close)
        server = Server(env, log, "--processes", "2", "--workers", "1", "--log-level", "info")
        stack.callback(server.stop)
        parent = psutil.Process(server.proc.pid)
        wait_for(lambda: len(_children(parent)) == 3)  # two API processes and the workers'
        api = [c for c in _children(parent) if _holds(c, server.port, psutil.CONN_LISTEN)]
        assert len(api) == 2
        # connections to the one port go to both API processes
        clients = [stack.enter_context(httpx.Client(base_url=server.url)) for _ in range(100)]
        for client in clients:
            assert client.get("/healthz").status_code == 200
            if all(_holds(c, server.port, psutil.CONN_ESTABLISHED) for c in api):
                break
        assert all(_holds(c, server.port, psutil.CONN_ESTABLISHED) for c in api)

        headers = {"X-Api-Key": key}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            ids = [
                client.post(
                    "/api/couple_image", files=couple_files(), data={"webhook_url": receiver.url}
                ).json()["task_id"]
                for _ in range(TASKS)
            ]

            def statuses() -> list[dict]:
                return [client.get(f"/api/task-status/{i}").json() for i in ids]

            wait_for(lambda: all(s["status"] == "completed" for s in statuses()))
            wait_for(lambda: len(receiver.received) >= TASKS + 1)
            wait_for(lambda: all(s.get("result_expired") for s in statuses()))
            time.sleep(1.5)  # time for a duplicate to show up
        delivered = [h["webhook-id"] for h, _ in receiver.received]
        assert len(delivered) == TASKS + 1 and len(set(delivered)) == TASKS  # one retried once
    text = log.read_text()
    assert server.proc.returncode == 0, text[-3000:]
    assert len(re.findall(r"now plays this role \(lease webhooks\)", text)) == 1, text[-3000:]
    assert len(re.findall(r"now plays this role \(lease sweeper:", text)) == 1, text[-3000:]
    swept = sum(int(n) for n in re.findall(r"retention: deleted (\d+) result", text))
    assert swept == TASKS, text[-3000:]


def _children(parent: psutil.Process) -> list[psutil.Process]:
    """The supervisor's children that are twoshot (not multiprocessing's resource tracker)."""
    return [c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())]


def _holds(process: psutil.Process, port: int, status: str) -> bool:
    return any(
        c.laddr and c.laddr.port == port and c.status == status
        for c in process.net_connections(kind="tcp")
    )


def test_of_two_runtimes_on_one_database_one_sweeps_and_the_other_takes_over(
    tmp_path: Path,
) -> None:
    """Two runtimes (as two processes would) on one database and data directory, both with a
    sweeper thread: only one sweeps; once it stops, the other takes the role at once."""
    from tests.conftest import make_settings
    from twoshot.runtime import Background, Runtime
    from twoshot.service import NoChecks

    runtimes = [
        Runtime.build(make_settings(tmp_path, sweep_interval=0.05), checks=NoChecks())
        for _ in range(2)
    ]
    swept: list[list[float]] = [[], []]
    for rt, calls in zip(runtimes, swept, strict=True):
        original = rt.service.sweep

        def counted(*args: float, _calls: list[float] = calls, _original=original) -> object:  # type: ignore[no-untyped-def]
            _calls.append(time.monotonic())
            return _original(*args)

        rt.service.sweep = counted  # type: ignore[method-assign]
        rt.plan(Background(sweeper=True))
        rt.start()
    try:
        wait_for(lambda: sum(map(len, swept)) >= 10, 30)
        assert min(map(len, swept)) == 0  # one of them only
        first = 0 if swept[0] else 1
        stopped_at = time.monotonic()
        runtimes[first].close()  # lets the lease go (the other may take it meanwhile)
        wait_for(lambda: len(swept[1 - first]) >= 3, 30)
        assert swept[1 - first][0] > stopped_at
    finally:
        for rt in runtimes:
            rt.close()


def test_on_sqlite_the_worker_process_wakes_waiters_of_the_api_processes_at_once(
    tmp_path: Path,
) -> None:
    """Was: on one SQLite file, a client waiting in an API process (``Prefer: wait``, the
    event stream) learnt of an end in the worker process only at its next re-read. With the
    re-read 30 s away, every answer must come from the notification."""
    database = f"sqlite:///{tmp_path / 'data' / 'twoshot.db'}"
    key, env = keyed_env(tmp_path, database, TWOSHOT_LIVE_RECHECK="30")
    server = Server(env, tmp_path / "serve.log", "--processes", "2", "--workers", "1")
    try:
        headers = {"X-Api-Key": key}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for _ in range(4):
                started = time.monotonic()
                r = client.post(
                    "/api/couple_image", files=couple_files(), headers={"Prefer": "wait=20"}
                )
                assert r.json()["status"] == "completed", r.text
                assert time.monotonic() - started < 15
            queued = client.post("/api/couple_image", files=couple_files()).json()["task_id"]
            with client.stream("GET", f"/api/task-status/{queued}/events") as events:
                started = time.monotonic()
                text = "".join(events.iter_text())
            assert "event: done" in text and time.monotonic() - started < 15
    finally:
        server.stop()
