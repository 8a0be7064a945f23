"""The runtime owns its threads: the app's lifespan starts what was planned and, at
shutdown, stops and joins every one of them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import couple_files, make_settings, start_live, stop_live
from twoshot.runtime import Background, Runtime
from twoshot.service import NoChecks


def test_shutdown_joins_every_thread_the_server_started(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    rt = Runtime.build(make_settings(tmp_path, sweep_interval=0.05), checks=NoChecks())
    rt.plan(Background(workers=2, sweeper=True, webhooks=True))
    served = start_live(rt)
    files = couple_files()
    answer = httpx.post(f"{served.url}/api/couple_image", headers=served.headers, files=files)
    assert answer.status_code == 200
    started = rt.threads
    assert sorted(t.name for t in started if not t.name.startswith("worker-")) == [
        "sweeper",
        "task-notifications",  # from the other processes on this SQLite file
        "webhooks",
    ]
    assert len([t for t in started if t.name.startswith("worker-")]) == 2
    assert all(t.is_alive() for t in started)
    stop_live(served)
    assert not any(t.is_alive() for t in started)
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []


def test_per_thread_engines_and_shared_ones(tmp_path: Path) -> None:
    from twoshot.engines import Serialized

    rt = Runtime.build(make_settings(tmp_path), checks=NoChecks())
    shared = rt.engine(rt.settings.engine)  # a fixture engine that says nothing: shared
    assert isinstance(shared, Serialized) and rt.engine(rt.settings.engine) is shared
    studio = rt.engine("studio")  # per_thread: every worker thread builds its own
    assert not isinstance(studio, Serialized) and rt.engine("studio") is not studio
    rt.close()


def test_runtime_started_twice_refuses_and_a_stopped_one_really_restarts(tmp_path: Path) -> None:
    """Was: a second start after stop() ran threads that saw the old stop signal and
    exited at once, silently; a start while running started everything twice."""
    rt = Runtime.build(make_settings(tmp_path, sweep_interval=0.05), checks=NoChecks())
    rt.plan(Background(sweeper=True, webhooks=True))
    rt.start()
    with pytest.raises(RuntimeError, match="started"):
        rt.start()
    rt.stop()
    assert rt.state == "stopped" and not any(t.is_alive() for t in rt.threads)
    rt.start()
    assert rt.state == "started"
    threads = rt.threads
    time.sleep(0.2)  # several sweeps' time: a thread that saw a stale stop would be gone
    assert len(threads) == 3 and all(t.is_alive() for t in threads)  # and task-notifications
    rt.close()
    assert not any(t.is_alive() for t in threads)
