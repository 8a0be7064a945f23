"""Live events in commit order, and waiters that cannot miss a wake-up (issue #20).

Each test is named after a defect it reproduces on d4ba9d6."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.conftest import Live, couple_files, make_settings, start_live, stop_live
from tests.store.test_contract import postgres_schema
from twoshot.live import PgListener
from twoshot.runtime import Runtime
from twoshot.service import NoChecks
from twoshot.store import SqlStore, make_engine, migrate

Event = tuple[str, str, dict]


class Skew:
    """A store clock that runs ahead or behind, as another replica's would."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@contextmanager
def served(tmp_path: Path, clock: Callable[[], float], url: str | None = None) -> Iterator[Live]:
    """A server with no worker whose store reads ``clock``."""
    url = url or f"sqlite:///{tmp_path / 'twoshot.db'}"
    engine = make_engine(url)
    migrate(engine)
    settings = make_settings(tmp_path, database_url=url, live_recheck=30.0)
    rt = Runtime.build(settings, checks=NoChecks(), store=SqlStore(engine, clock=clock))
    live = start_live(rt)
    try:
        yield live
    finally:
        stop_live(live)


def batch_of(live: Live, image_server: str, n: int) -> dict:
    body = {
        "personImages": [f"{image_server}/obama.jpg"],
        "promptData": [{"prompt": f"p{i}"} for i in range(n)],
    }
    r = httpx.post(f"{live.url}/api/person_image_batch", headers=live.headers, json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


class Reader:
    """Reads an event stream in a thread, keeping each event as it arrives."""

    def __init__(self, url: str, headers: dict[str, str], stop_after_items: int | None = None):
        self.events: list[Event] = []
        self._args = (url, headers, stop_after_items)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        url, headers, stop_after = self._args
        with httpx.stream("GET", url, headers=headers, timeout=60) as r:
            assert r.status_code == 200
            fields: dict[str, str] = {}
            for line in r.iter_lines():
                if line == "":
                    if "data" in fields:
                        event = (fields.get("id", ""), fields["event"], json.loads(fields["data"]))
                        self.events.append(event)
                        if stop_after is not None and len(self.items) >= stop_after:
                            return
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value

    @property
    def items(self) -> list[Event]:
        return [e for e in self.events if e[1] == "item"]

    def wait_for(self, items: int, timeout: float = 20) -> None:
        deadline = time.time() + timeout
        while len(self.items) < items:
            assert time.time() < deadline, self.events
            time.sleep(0.02)


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline
        time.sleep(0.02)


def test_batch_stream_sends_an_item_that_ended_earlier_but_committed_later(
    tmp_path: Path, image_server: str
) -> None:
    """Was: items numbered by their place in a list sorted by ``finished_at``: a task with
    an earlier clock that commits later shifted the list (t1 sent twice, t0 never)."""
    skew = Skew()
    with served(tmp_path, skew) as live:
        rt = live.runtime
        batch = batch_of(live, image_server, 2)
        t0, t1 = batch["task_ids"]
        key_id = rt.service.authenticate(live.key).id
        url = f"{live.url}/api/task-status/{batch['task_id']}/events"
        reader = Reader(url, live.headers)
        wait_until(lambda: rt.events.waiting >= 1)
        skew.offset = 100.0  # this replica's clock is ahead
        rt.store.cancel(t1, key_id)
        reader.wait_for(1)
        skew.offset = -100.0  # this one's is behind: it ends "earlier", commits later
        rt.store.cancel(t0, key_id)
        reader.thread.join(20)
        assert [e[2]["task_id"] for e in reader.items] == [t1, t0]
        assert reader.events[-1][1] == "done"
        resumed = Reader(url, {**live.headers, "Last-Event-ID": reader.items[0][0]})
        resumed.thread.join(20)
        assert [e[2]["task_id"] for e in resumed.items] == [t0]


def test_batch_stream_of_20_tasks_ending_in_shuffled_commit_order_postgresql(
    tmp_path: Path, image_server: str
) -> None:
    """Twenty tasks end from four threads in a shuffled order, each with a clock up to a
    minute off; a client reads seven items, drops, resumes with Last-Event-ID, and must get
    every item exactly once. A client that comes after the end gets all twenty once."""
    rng = random.Random(20)
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema())
        live = stack.enter_context(
            served(tmp_path, lambda: time.time() + random.uniform(-60, 60), url)
        )
        rt = live.runtime
        batch = batch_of(live, image_server, 20)
        key_id = rt.service.authenticate(live.key).id
        stream = f"{live.url}/api/task-status/{batch['task_id']}/events"
        first = Reader(stream, live.headers, stop_after_items=7)
        wait_until(lambda: rt.events.waiting >= 1)
        order = list(batch["task_ids"])
        rng.shuffle(order)

        def end(ids: list[str]) -> None:
            for task_id in ids:
                time.sleep(rng.uniform(0, 0.03))
                rt.store.cancel(task_id, key_id)

        enders = [threading.Thread(target=end, args=(order[i::4],)) for i in range(4)]
        for t in enders:
            t.start()
        first.thread.join(30)
        assert len(first.items) == 7
        rest = Reader(stream, {**live.headers, "Last-Event-ID": first.items[-1][0]})
        for t in enders:
            t.join(30)
        rest.thread.join(30)
        assert rest.events[-1][1] == "done"
        got = [e[2]["task_id"] for e in first.items + rest.items]
        assert sorted(got) == sorted(batch["task_ids"]) and len(got) == 20
        after = Reader(stream, live.headers)
        after.thread.join(30)
        assert sorted(e[2]["task_id"] for e in after.items) == sorted(batch["task_ids"])


@contextmanager
def ending_after_first_read(rt: Runtime) -> Iterator[None]:
    """The task ends just after the route's first read returns: the window in which a
    waiter that reads before it watches misses the wake-up."""
    real, real_status = rt.service.lookup, rt.service.status
    done: list[str] = []

    def end(ident: str, api_key_id: str) -> None:
        if not done:
            done.append(ident)
            rt.store.cancel(ident, api_key_id)

    def lookup(ident: str, key: Any) -> Any:
        found = real(ident, key)
        end(ident, key.id)
        return found

    def status(ident: str, secret: str | None) -> Any:  # the stream reads key and task at once
        found = real_status(ident, secret)
        end(ident, found.api_key_id)
        return found

    rt.service.lookup = lookup  # type: ignore[method-assign]
    rt.service.status = status  # type: ignore[method-assign]
    try:
        yield
    finally:
        rt.service.lookup = real  # type: ignore[method-assign]
        rt.service.status = real_status  # type: ignore[method-assign]


def test_prefer_wait_is_woken_by_an_end_between_its_read_and_its_watch(tmp_path: Path) -> None:
    """Was: the waiter read, then registered its watch; the end in between woke nobody and
    the answer came only at the next re-read (30 s here), or as "queued" when time was up."""
    with served(tmp_path, Skew()) as live, ending_after_first_read(live.runtime):
        started = time.monotonic()
        r = httpx.post(
            f"{live.url}/api/couple_image",
            headers={**live.headers, "Prefer": "wait=20"},
            files=couple_files(),
            timeout=30,
        )
        assert r.json()["status"] == "canceled"
        assert time.monotonic() - started < 10  # woken, not answered by the wait running out


def test_event_stream_is_woken_by_an_end_between_its_read_and_its_watch(tmp_path: Path) -> None:
    with served(tmp_path, Skew()) as live:
        task_id = httpx.post(
            f"{live.url}/api/couple_image", headers=live.headers, files=couple_files()
        ).json()["task_id"]
        with ending_after_first_read(live.runtime):
            reader = Reader(f"{live.url}/api/task-status/{task_id}/events", live.headers)
            reader.thread.join(8)
        assert reader.events and reader.events[-1][1] == "done"
        assert reader.events[-1][2]["status"] == "canceled"


def test_prefer_wait_on_a_task_deleted_meanwhile_keeps_the_successful_answer(live: Live) -> None:
    """Was: the re-read raised NotFound and a submission that succeeded answered 404."""
    answers: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{live.url}/api/couple_image",
                headers={**live.headers, "Prefer": "wait=20"},
                files=couple_files(),
                timeout=30,
            )
        )
    )
    waiter.start()
    wait_until(lambda: live.runtime.events.waiting == 1)
    (task,) = live.runtime.store.account_tasks(None, limit=1)
    assert httpx.delete(f"{live.url}/api/task/{task.id}", headers=live.headers).status_code == 204
    waiter.join(20)
    assert answers[0].status_code == 200 and answers[0].json()["task_id"] == task.id


def test_sqlite_inline_read_does_not_wait_for_the_pool_and_healthz_answers(
    live: Live, image_server: str
) -> None:
    """Was: a batch's task-status read on the event loop checked a connection out of the
    pool; with the pool held by threads, the whole server stopped (/healthz waited too)."""
    batch = batch_of(live, image_server, 2)
    engine = live.runtime.store._engine  # type: ignore[attr-defined]
    held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
    try:
        answers: list[httpx.Response] = []
        poll = threading.Thread(
            target=lambda: answers.append(
                httpx.get(
                    f"{live.url}/api/task-status/{batch['task_id']}",
                    headers=live.headers,
                    timeout=40,
                )
            )
        )
        poll.start()
        time.sleep(0.2)
        assert httpx.get(f"{live.url}/healthz", timeout=3).status_code == 200
        poll.join(3)
        assert answers and answers[0].json()["status"] == "queued"
    finally:
        for conn in held:
            conn.close()


class FakeListening:
    """A LISTEN connection that hands over one notification, then hears nothing more until
    the test says so (a quiet channel: the window stays open)."""

    def __init__(self, quiet: threading.Event, fail_check: bool = False):
        self.quiet = quiet
        self.fail_check = fail_check
        self.sent = False

    def __enter__(self) -> FakeListening:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, *args: object) -> None:
        if self.fail_check and sql.startswith("SELECT 1"):
            import psycopg

            raise psycopg.OperationalError("server closed the connection unexpectedly")

    def notifies(self, timeout: float | None = None, stop_after: int | None = None) -> Any:
        if not self.sent:
            self.sent = True
            yield SimpleNamespace(payload="t1", channel="twoshot_tasks", pid=1)
        self.quiet.wait(None if not self.fail_check else timeout)


class Published:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.woken = 0

    def publish(self, ids: list[str]) -> None:
        self.ids.extend(ids)

    def wake_all(self) -> None:
        self.woken += 1


def test_postgresql_notification_is_published_as_it_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was: ``[n for n in conn.notifies(timeout=0.5)]`` published only when the window
    closed (342 ms median delay); here the window never closes until the test ends it."""
    import psycopg

    quiet, stop = threading.Event(), threading.Event()
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: FakeListening(quiet))
    events = Published()
    thread = threading.Thread(
        target=PgListener("x", events, stop).run,  # type: ignore[arg-type]
        daemon=True,
    )
    thread.start()
    try:
        wait_until(lambda: events.ids == ["t1"], timeout=5)
    finally:
        stop.set()
        quiet.set()
        thread.join(5)


def test_postgresql_listener_checks_its_connection_and_listens_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was: a connection that died silently was never noticed; now a quiet connection is
    checked, and a failed check reconnects and wakes every waiter (notes may be lost)."""
    import psycopg

    connects: list[FakeListening] = []
    quiet, stop = threading.Event(), threading.Event()

    def connect(*a: object, **k: object) -> FakeListening:
        connects.append(FakeListening(quiet, fail_check=True))
        return connects[-1]

    monkeypatch.setattr(psycopg, "connect", connect)
    events = Published()
    listener = PgListener("x", events, stop, check_every=0.05)  # type: ignore[arg-type]
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(connects) >= 2 and events.woken >= 2, timeout=10)
    finally:
        stop.set()
        quiet.set()
        thread.join(5)
