"""Results without polling: ``Prefer: wait`` and the task-status event stream."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    Live,
    couple_files,
    make_settings,
    start_live,
    stop_live,
    working_server,
)
from tests.store.test_contract import postgres_schema
from twoshot.api.live import prefer_wait
from twoshot.runtime import Runtime
from twoshot.service import NoChecks

FILES = couple_files()


def test_prefer_header_parsing() -> None:
    assert prefer_wait(None) is None and prefer_wait("respond-async") is None
    assert prefer_wait("wait") == 60 and prefer_wait("wait=5") == 5
    assert (
        prefer_wait("respond-async, wait=600") == 60 and prefer_wait("return=minimal; wait=2") == 2
    )
    assert prefer_wait("waiting=3") is None


@pytest.fixture
def working(tmp_path: Path) -> Iterator[Live]:
    rt = Runtime.build(make_settings(tmp_path), checks=NoChecks())
    with working_server(rt) as live:
        yield live


def test_prefer_wait_answers_with_the_finished_task(working: Live) -> None:
    r = httpx.post(
        f"{working.url}/api/couple_image",
        headers={**working.headers, "Prefer": "wait=20"},
        files=FILES,
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["preference-applied"] == "wait=20"
    body = r.json()
    assert body["status"] == "completed" and body["image_url"] and body["progress"] == 1.0
    plain = httpx.post(f"{working.url}/api/couple_image", headers=working.headers, files=FILES)
    assert plain.json()["status"] == "queued" and "preference-applied" not in plain.headers


def test_prefer_wait_on_a_batch_waits_for_every_item(working: Live, image_server: str) -> None:
    body = {
        "femaleImages": [f"{image_server}/astronaut.jpg"],
        "maleImages": [f"{image_server}/obama.jpg"],
        "items": [{"femaleIndex": 0, "maleIndex": 0, "prompt": p} for p in ("a", "b", "c")],
    }
    r = httpx.post(
        f"{working.url}/api/couple_image/batch",
        headers={**working.headers, "Prefer": "wait=30"},
        json=body,
        timeout=40,
    )
    agg = r.json()
    assert agg["status"] == "completed" and all(agg["image_urls"]) and len(agg["tasks"]) == 3


def test_a_slow_task_gets_the_queued_answer_and_waiters_hold_no_worker(
    live: Live,
) -> None:
    """No worker runs: a waiting request answers ``queued`` when its wait is up. Thirty
    waiting at once hold thirty connections, no thread each; a worker started meanwhile
    completes their tasks and wakes them."""
    r = httpx.post(
        f"{live.url}/api/couple_image",
        headers={**live.headers, "Prefer": "wait=1"},
        files=FILES,
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert r.headers["preference-applied"] == "wait=1"

    async def many() -> list[dict]:
        async with httpx.AsyncClient(timeout=60) as client:
            calls = [
                client.post(
                    f"{live.url}/api/couple_image",
                    headers={**live.headers, "Prefer": "wait=30"},
                    files=FILES,
                )
                for _ in range(30)
            ]
            return [x.json() for x in await asyncio.gather(*calls)]

    results: list[dict] = []
    waiter = threading.Thread(target=lambda: results.extend(asyncio.run(many())))
    waiter.start()
    deadline = time.time() + 30
    while live.runtime.events.waiting < 30:
        assert time.time() < deadline, live.runtime.events.waiting
        time.sleep(0.05)
    assert borrowed_threads(live) == 0  # thirty waiting: connections, not threads

    assert live.drain() == 31  # a worker comes along: every waiter is woken
    waiter.join(30)
    assert len(results) == 30 and {b["status"] for b in results} == {"completed"}


def borrowed_threads(live: Live) -> int:
    """How many of the server's thread-pool threads are busy now (asked on its loop)."""
    import anyio.to_thread

    async def count() -> int:
        return int(anyio.to_thread.current_default_thread_limiter().borrowed_tokens)

    loop = live.runtime.events._loop
    assert loop is not None
    return asyncio.run_coroutine_threadsafe(count(), loop).result(5)


def sse(
    url: str, headers: dict[str, str], stop_after: int | None = None
) -> list[tuple[str, str, dict]]:
    """(id, event, data) of each event, until the stream ends or ``stop_after`` events."""
    events: list[tuple[str, str, dict]] = []
    with httpx.stream("GET", url, headers=headers, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if line == "":
                if "data" in fields:
                    events.append(
                        (fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"]))
                    )
                    if stop_after is not None and len(events) >= stop_after:
                        return events
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    return events


@pytest.fixture
def slow_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.setenv("TWOSHOT_TEST_STEPS", "10")
    monkeypatch.setenv("TWOSHOT_TEST_STEP_SECONDS", "0.15")
    rt = Runtime.build(make_settings(tmp_path, engine="tests.engines:slow"), checks=NoChecks())
    with working_server(rt) as live:
        yield live


def test_event_stream_delivers_progress_then_the_final_body_and_resumes(slow_live: Live) -> None:
    task_id = httpx.post(
        f"{slow_live.url}/api/couple_image", headers=slow_live.headers, files=FILES
    ).json()["task_id"]
    url = f"{slow_live.url}/api/task-status/{task_id}/events"
    first = sse(url, slow_live.headers, stop_after=2)  # then the client drops the connection
    assert [e[1] for e in first] == ["progress", "progress"]
    seen = int(first[-1][0])
    rest = sse(url, {**slow_live.headers, "Last-Event-ID": str(seen)})
    progress = [e for e in rest if e[1] == "progress"]
    assert all(int(i) > seen for i, _, _ in progress)  # nothing sent twice after resuming
    assert [p["progress"] for _, _, p in progress] == sorted(p["progress"] for _, _, p in progress)
    final = rest[-1]
    assert final[:2] == ("end", "done") and final[2]["status"] == "completed"
    assert final[2]["image_url"] and final[2]["task_id"] == task_id
    again = sse(url, slow_live.headers)  # an ended task: just the final body
    assert [e[1] for e in again] == ["done"]


def test_event_stream_of_a_batch_sends_each_item(working: Live, image_server: str) -> None:
    body = {
        "personImages": [f"{image_server}/obama.jpg"],
        "promptData": [{"prompt": "a"}, {"prompt": "b"}],
    }
    batch = httpx.post(
        f"{working.url}/api/person_image_batch", headers=working.headers, json=body
    ).json()
    events = sse(f"{working.url}/api/task-status/{batch['task_id']}/events", working.headers)
    items = [e for e in events if e[1] == "item"]
    assert sorted(e[2]["task_id"] for e in items) == sorted(batch["task_ids"])
    cursors = [tuple(int(n) for n in e[0].split(".")) for e in items]  # end order, index
    assert cursors == sorted(cursors) and len(set(cursors)) == 2
    assert events[-1][1] == "done" and events[-1][2]["status"] == "completed"


def test_event_stream_errors(live: Live) -> None:
    url = f"{live.url}/api/task-status/nope/events"
    assert httpx.get(url, headers=live.headers).status_code == 404
    assert httpx.get(url).status_code == 401


def test_a_task_finished_by_another_process_wakes_a_waiter_postgresql(tmp_path: Path) -> None:
    """The waiter re-reads only every 60 s here: what wakes it is PostgreSQL's NOTIFY from
    the `twoshot worker` process that finishes the task."""
    from tests.process import cli, env_for

    with postgres_schema() as url:
        settings = make_settings(tmp_path, database_url=url, live_recheck=60.0)
        rt = Runtime.build(settings, checks=NoChecks())
        live = start_live(rt)
        try:
            deadline = time.time() + 10
            while rt.listener is None or not rt.listener.connected.is_set():
                assert time.time() < deadline, "the listener did not connect"
                time.sleep(0.05)
            answers: list[httpx.Response] = []
            started = time.time()
            waiter = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(
                        f"{live.url}/api/couple_image",
                        headers={**live.headers, "Prefer": "wait=50"},
                        files=FILES,
                        timeout=60,
                    )
                )
            )
            waiter.start()
            while not rt.events.waiting:
                time.sleep(0.05)
            env = env_for(
                tmp_path / "data",
                TWOSHOT_DATABASE_URL=url,
                TWOSHOT_ENGINE="tests.engines:sidebyside",
            )
            done = cli(env, "worker", "--burst")
            assert done.returncode == 0, done.stderr
            waiter.join(30)
            assert answers and answers[0].json()["status"] == "completed"
            assert time.time() - started < 40  # woken by the notification, not the re-read
        finally:
            stop_live(live)


def test_client_wait_rides_the_stream_and_falls_back_to_polling(
    slow_live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twoshot.client import Client, _Stream

    requests: list[str] = []
    with Client(slow_live.url, slow_live.key) as c:
        c._http.event_hooks["request"].append(lambda r: requests.append(r.url.path))
        task_id = c.couple(FILES["maleImage"][1], FILES["femaleImage"][1])
        updates: list[float] = []
        result = c.wait(task_id, on_update=lambda r: updates.append(r.progress))
        assert result.status == "completed" and result.image_url
        polls = [p for p in requests if p == f"/api/task-status/{task_id}"]
        assert polls == [] and requests.count(f"/api/task-status/{task_id}/events") == 1
        assert len(updates) >= 3 and updates == sorted(updates) and updates[-1] == 1.0

        feed = _Stream.feed

        def breaking(self: _Stream, line: str):  # type: ignore[no-untyped-def]
            if line.startswith("event: progress"):
                raise httpx.ReadError("the connection dropped")
            return feed(self, line)

        monkeypatch.setattr(_Stream, "feed", breaking)
        requests.clear()
        task_id = c.couple(FILES["maleImage"][1], FILES["femaleImage"][1])
        result = c.wait(task_id, poll=0.05)
        assert result.status == "completed"
        assert requests.count(f"/api/task-status/{task_id}/events") == _Stream.MAX_BREAKS
        assert requests.count(f"/api/task-status/{task_id}") >= 1  # then it polled


def test_stopping_twoshot_serve_answers_its_waiting_clients(tmp_path: Path) -> None:
    """SIGTERM while a client waits (no worker runs): the client gets its queued answer at
    once, and the server stops, instead of both waiting out the 60 s."""
    stop_while_a_client_waits(tmp_path, "--workers", "0")


def test_a_stop_signal_that_comes_while_the_waiters_lock_is_held_does_not_hang() -> None:
    """Was: the stop-signal handler called ``TaskEvents.close``, which takes the waiters'
    lock; a signal runs on the main thread wherever it was, so one arriving inside that lock
    (or a second SIGTERM inside the first's handler) waited on it forever: a server that
    never stopped. The handler now only marks closing and leaves the waking to the loop."""
    import signal

    from twoshot.api.shutdown import release_waiters_on_stop
    from twoshot.live import TaskEvents

    events = TaskEvents()
    loop = asyncio.new_event_loop()
    events.bind(loop)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    undo = release_waiters_on_stop(events)
    try:
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        with events._lock:  # where the signal interrupted this thread
            done = threading.Thread(target=handler, args=(signal.SIGTERM, None), daemon=True)
            done.start()
            done.join(5)
            assert not done.is_alive()
        assert events.closing
    finally:
        undo()
        signal.signal(signal.SIGTERM, previous)
        loop.close()


def test_any_asgi_server_answers_waiting_clients_when_stopped(tmp_path: Path) -> None:
    """Was: only ``twoshot serve`` (a uvicorn subclass in the CLI) released waiters at
    shutdown; the app under plain uvicorn held its shutdown until every wait ran out."""
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "tests.asgi_app:app"]
    stop_while_a_client_waits(tmp_path, command=uvicorn)


def stop_while_a_client_waits(tmp_path: Path, *args: str, command: list[str] | None = None) -> None:
    from tests.process import Server, cli, env_for

    env = env_for(
        tmp_path / "data", TWOSHOT_ENGINE="tests.engines:sidebyside", TWOSHOT_FACE_CHECKS="false"
    )
    key = cli(env, "keys", "create", "--name", "k").stdout.strip()
    server = Server(env, tmp_path / "serve.log", *args, command=command)
    answers: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{server.url}/api/couple_image",
                headers={"X-Api-Key": key, "Prefer": "wait=60"},
                files=FILES,
                timeout=90,
            )
        )
    )
    waiter.start()
    deadline = time.time() + 20
    while "twoshot_waiting_clients 1.0" not in httpx.get(f"{server.url}/metrics").text:
        assert time.time() < deadline
        time.sleep(0.05)
    started = time.time()
    server.stop()
    waiter.join(30)
    assert time.time() - started < 15
    assert answers and answers[0].status_code == 200 and answers[0].json()["status"] == "queued"
    assert server.proc.returncode in (0, -15)  # uvicorn re-raises the SIGTERM it handled


def test_cancel_with_prefer_wait_answers_once_the_task_stopped(slow_live: Live) -> None:
    task_id = httpx.post(
        f"{slow_live.url}/api/couple_image", headers=slow_live.headers, files=FILES
    ).json()["task_id"]
    deadline = time.time() + 10
    while (
        httpx.get(f"{slow_live.url}/api/task-status/{task_id}", headers=slow_live.headers).json()[
            "status"
        ]
        != "processing"
    ):
        assert time.time() < deadline
        time.sleep(0.05)
    plain = httpx.post(f"{slow_live.url}/api/task/{task_id}/cancel", headers=slow_live.headers)
    assert plain.json()["status"] == "processing"  # asked to stop; it stops at its next step
    waited = httpx.post(
        f"{slow_live.url}/api/task/{task_id}/cancel",
        headers={**slow_live.headers, "Prefer": "wait=10"},
        timeout=20,
    )
    assert waited.status_code == 200 and waited.headers["preference-applied"] == "wait=10"
    assert waited.json()["status"] == "canceled"
