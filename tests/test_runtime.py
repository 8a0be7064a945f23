"""The runtime owns its threads: the app's lifespan starts what was planned and, at
shutdown, stops and joins every one of them."""

from __future__ import annotations

import signal
import subprocess
import sys
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
    assert len(threads) == 2 and all(t.is_alive() for t in threads)
    rt.close()
    assert not any(t.is_alive() for t in threads)


def test_any_asgi_server_answers_waiting_clients_when_stopped(tmp_path: Path) -> None:
    """Was: only ``twoshot serve`` (a uvicorn subclass in the CLI) released waiters at
    shutdown; the app under plain uvicorn held its shutdown until every wait ran out."""
    from tests.conftest import free_port
    from tests.process import cli, env_for

    env = env_for(
        tmp_path / "data", TWOSHOT_ENGINE="tests.engines:sidebyside", TWOSHOT_FACE_CHECKS="false"
    )
    key = cli(env, "keys", "create", "--name", "k").stdout.strip()
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tests.asgi_app:app", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None and time.time() < deadline
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        answers: list[httpx.Response] = []
        waiter = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{url}/api/couple_image",
                    headers={"X-Api-Key": key, "Prefer": "wait=60"},
                    files=couple_files(),
                    timeout=90,
                )
            )
        )
        waiter.start()
        while "twoshot_waiting_clients 1.0" not in httpx.get(f"{url}/metrics").text:
            assert time.time() < deadline
            time.sleep(0.05)
        started = time.time()
        proc.send_signal(signal.SIGTERM)
        waiter.join(30)
        proc.wait(30)
        assert time.time() - started < 15  # not the 60 s the client asked to wait
        assert answers and answers[0].json()["status"] == "queued"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
