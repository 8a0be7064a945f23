"""The store contract: every backend runs these. The clock is injected, so leases expire
without sleeping."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from twoshot.blobs import new_result_name
from twoshot.domain import Batch, ErrorInfo, JobSpec, Task, TaskStatus
from twoshot.errors import Conflict
from twoshot.store import Idempotency, Queue, SqlStore, make_engine, migrate
from twoshot.store.schema import metadata


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# PostgreSQL runs on the dev and CI machines (trust auth); elsewhere set TWOSHOT_TEST_POSTGRES
# to a server, or the PostgreSQL half of the suite is skipped.
POSTGRES = os.environ.get(
    "TWOSHOT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A schema of its own for one test, dropped afterwards: the URL to use it."""
    pytest.importorskip("psycopg")
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES, pool_pre_ping=True)  # survives a server restart
    name = f"twoshot_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:  # no server here
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES}: {type(exc).__name__}")
    sep = "&" if "?" in POSTGRES else "?"
    try:
        yield f"{POSTGRES}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@contextmanager
def opened_store(kind: str, tmp_path: Path) -> Iterator[tuple[SqlStore, Clock]]:
    """A migrated store on ``kind`` (sqlite, postgresql) with an injected clock."""
    with ExitStack() as stack:
        if kind == "postgresql":
            url = stack.enter_context(postgres_schema())
        else:
            url = f"sqlite:///{tmp_path / 'store.db'}"
        engine = make_engine(url)
        migrate(engine)
        clock = Clock()
        store = SqlStore(engine, clock=clock)
        stack.callback(store.close)
        yield store, clock


@dataclass
class Rig:
    """A queue under test, and the store behind it (for setting up and checking)."""

    queue: Queue
    store: SqlStore
    clock: Clock
    remote: bool = False

    def result_name(self, task_: Task, owner: str) -> str:
        """A result name as the worker gets one: a remote server issues it per upload."""
        name_for = getattr(self.queue, "result_name", None)
        return name_for(task_.id, owner) if name_for is not None else new_result_name()

    def owner(self, task_: Task | None) -> str:
        """The lease owner as the worker named it (a server prefixes its token's id)."""
        assert task_ is not None and task_.lease_owner is not None
        return task_.lease_owner.rsplit("/", 1)[-1] if self.remote else task_.lease_owner


@pytest.fixture(params=["sqlite", "postgresql", "remote"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    """Every ``Queue``: the SQL store on both databases, and ``RemoteQueue`` talking to a
    twoshot app in-process (over Starlette's test transport) on a SQLite store, so the
    remote worker protocol cannot drift from the local one."""
    with ExitStack() as stack:
        kind = "postgresql" if request.param == "postgresql" else "sqlite"
        store, clock = stack.enter_context(opened_store(kind, tmp_path))
        if request.param != "remote":
            yield Rig(store, store, clock)
            return
        from starlette.testclient import TestClient

        from tests.conftest import make_settings
        from twoshot.api import create_app
        from twoshot.runtime import Runtime
        from twoshot.service import NoChecks
        from twoshot.worker.remote import RemoteQueue

        rt = Runtime.build(make_settings(tmp_path), checks=NoChecks(), store=store)
        client = stack.enter_context(TestClient(create_app(rt)))
        _, token = store.create_worker_token("contract")
        remote = RemoteQueue("http://testserver", token, client=client)
        yield Rig(remote, store, clock, remote=True)


@pytest.fixture
def clock(backend: tuple[SqlStore, Clock]) -> Clock:
    return backend[1]


def task(
    key_id: str,
    n: int = 0,
    *,
    engine: str = "e",
    inputs: tuple[str, ...] = ("a" * 64,),
    batch: str | None = None,
) -> Task:
    at = datetime.fromtimestamp(1_000_000 + n, UTC)
    spec = JobSpec(kind="person", prompt="p", references=list(inputs))
    return Task(
        id=f"t{n:04d}",
        api_key_id=key_id,
        kind="person",
        status=TaskStatus.QUEUED,
        engine=engine,
        spec=spec,
        created_at=at,
        updated_at=at,
        max_attempts=2,
        batch_id=batch,
        batch_index=n if batch else None,
    )


@pytest.fixture
def key_id(store: SqlStore) -> str:
    return store.create_key("k")[0].id


def test_migrations_create_exactly_the_declared_schema(store: SqlStore) -> None:
    inspector = inspect(store._engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        assert {i.name for i in table.indexes} <= indexes, table.name


def test_keys(store: SqlStore) -> None:
    key, secret = store.create_key("app")
    assert len(secret) >= 40 and secret not in key.prefix + key.id
    assert store.authenticate(secret) == key
    assert store.authenticate(secret + "x") is None
    assert store.revoke_key(key.prefix) is not None
    assert store.authenticate(secret) is None
    assert store.list_keys()[0].revoked_at is not None
    assert store.revoke_key("nope") is None


def test_claim_is_oldest_first_and_by_engine(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit(
        [task(key_id, 2), task(key_id, 1), task(key_id, 3, engine="other")], None, "{}"
    )
    first = rig.queue.claim("w1", ["e"], 30)
    second = rig.queue.claim("w2", ["e"], 30)
    assert (first.id, second.id) == ("t0001", "t0002")  # type: ignore[union-attr]
    assert first.status is TaskStatus.PROCESSING and first.attempts == 1  # type: ignore[union-attr]
    assert rig.owner(first) == "w1"
    assert first.spec == rig.store.get_task("t0001").spec  # type: ignore[union-attr]
    assert rig.queue.claim("w3", ["e"], 30) is None
    assert rig.queue.claim("w3", ["other"], 30).id == "t0003"  # type: ignore[union-attr]


def test_concurrent_claims_never_share_a_task(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit([task(key_id, n) for n in range(40)], None, "{}")
    got: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (t := rig.queue.claim(name, ["e"], 30)) is not None:
            with lock:
                got.append(t.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [f"t{n:04d}" for n in range(40)]


def test_heartbeat_progress_and_finish_need_the_lease(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit([task(key_id)], None, "{}")
    q = rig.queue
    t = q.claim("w1", ["e"], 30)
    assert t is not None
    beat = q.heartbeat(t.id, "w1", 0.4, 30)
    assert beat.ours and not beat.cancel_requested
    assert rig.store.get_task(t.id).progress == 0.4  # type: ignore[union-attr]
    assert not q.heartbeat(t.id, "intruder", 0.9, 30).ours
    assert not q.finish(t.id, "intruder", TaskStatus.COMPLETED, result_key="r")
    name = rig.result_name(t, "w1")
    assert q.finish(t.id, "w1", TaskStatus.COMPLETED, result_key=name, quality={"faces": 1})
    done = rig.store.get_task(t.id)
    assert (
        done.status is TaskStatus.COMPLETED
        and done.quality == {"faces": 1}
        and done.progress == 1.0
    )  # type: ignore[union-attr]
    assert not q.finish(t.id, "w1", TaskStatus.FAILED)  # terminal is final
    assert not q.heartbeat(t.id, "w1", 0.5, 30).ours


def test_finish_refuses_a_status_that_is_not_terminal(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit([task(key_id)], None, "{}")
    t = rig.queue.claim("w1", ["e"], 30)
    assert t is not None
    with pytest.raises(ValueError, match="terminal"):
        rig.queue.finish(t.id, "w1", TaskStatus.QUEUED)
    assert rig.store.get_task(t.id).status is TaskStatus.PROCESSING  # type: ignore[union-attr]


def test_failure_keeps_its_error(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit([task(key_id)], None, "{}")
    t = rig.queue.claim("w1", ["e"], 30)
    assert t is not None
    assert rig.queue.finish(t.id, "w1", TaskStatus.FAILED, error=ErrorInfo("bad_pose", "why"))
    failed = rig.store.get_task(t.id)
    assert failed.status is TaskStatus.FAILED and failed.error == ErrorInfo("bad_pose", "why")  # type: ignore[union-attr]


def test_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit([task(key_id)], None, "{}")
    q = rig.queue
    q.claim("w1", ["e"], 30)
    rig.clock.now += 10
    assert q.claim("w2", ["e"], 30) is None  # lease still valid
    rig.clock.now += 25
    again = q.claim("w2", ["e"], 30)
    assert again is not None and again.attempts == 2 and rig.owner(again) == "w2"
    assert not q.finish(again.id, "w1", TaskStatus.COMPLETED, result_key="r1")
    name = rig.result_name(again, "w2")
    assert q.finish(again.id, "w2", TaskStatus.COMPLETED, result_key=name)
    assert rig.store.get_task(again.id).result_key == name  # type: ignore[union-attr]


def test_out_of_attempts_fails_with_worker_lost(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit([task(key_id)], None, "{}")  # max_attempts=2
    rig.queue.claim("w1", ["e"], 30)
    rig.clock.now += 31
    rig.queue.claim("w2", ["e"], 30)
    rig.clock.now += 31
    assert rig.queue.claim("w3", ["e"], 30) is None
    lost = rig.store.get_task("t0000")
    assert lost.status is TaskStatus.FAILED and lost.error.code == "worker_lost"  # type: ignore[union-attr]


def test_release_returns_the_task_without_spending_an_attempt(rig: Rig) -> None:
    key_id = rig.store.create_key("k")[0].id
    rig.store.submit([task(key_id)], None, "{}")
    rig.queue.claim("w1", ["e"], 30)
    assert not rig.queue.release("t0000", "intruder")
    assert rig.queue.release("t0000", "w1")
    t = rig.store.get_task("t0000")
    assert t.status is TaskStatus.QUEUED and t.attempts == 0  # type: ignore[union-attr]


def test_cancel(rig: Rig) -> None:
    store, q = rig.store, rig.queue
    key_id = store.create_key("k")[0].id
    store.submit([task(key_id, 0), task(key_id, 1)], None, "{}")
    running = q.claim("w1", ["e"], 30)
    assert store.cancel("t0001", key_id).status is TaskStatus.CANCELED  # type: ignore[union-attr]
    flagged = store.cancel(running.id, key_id)  # type: ignore[union-attr]
    assert flagged.status is TaskStatus.PROCESSING and flagged.cancel_requested  # type: ignore[union-attr]
    assert q.heartbeat(running.id, "w1", None, 30).cancel_requested  # type: ignore[union-attr]
    assert store.cancel("t0001", "someone-else") is None
    rig.clock.now += 100  # the worker died before it saw the cancel
    assert q.claim("w2", ["e"], 30) is None
    assert store.get_task(running.id).status is TaskStatus.CANCELED  # type: ignore[union-attr]


def test_batches_and_isolation(store: SqlStore, key_id: str) -> None:
    other = store.create_key("other")[0].id
    at = datetime.fromtimestamp(1_000_000, UTC)
    batch = Batch(id="batch-1", api_key_id=key_id, kind="person", created_at=at)
    store.submit([task(key_id, 1, batch="batch-1"), task(key_id, 0, batch="batch-1")], batch, "{}")
    got = store.get_batch("batch-1", key_id)
    assert got is not None and [t.batch_index for t in got.tasks] == [0, 1]
    assert got.status is TaskStatus.QUEUED
    assert store.get_batch("batch-1", other) is None
    assert store.get_task("t0001", other) is None


def test_idempotency(store: SqlStore, key_id: str) -> None:
    idem = Idempotency(key_id, "k1", "f1")
    assert store.submit([task(key_id, 0)], None, '{"task_id": "t0000"}', idem) is None
    assert (
        store.submit([task(key_id, 1)], None, '{"task_id": "t0001"}', idem)
        == '{"task_id": "t0000"}'
    )
    assert store.get_task("t0001") is None
    with pytest.raises(Conflict):
        store.submit([task(key_id, 2)], None, "{}", Idempotency(key_id, "k1", "other"))


def test_inputs_referenced_only_by_live_tasks(store: SqlStore, key_id: str) -> None:
    shared, own = "a" * 64, "b" * 64
    store.submit(
        [task(key_id, 0, inputs=(shared, own)), task(key_id, 1, inputs=(shared,))], None, "{}"
    )
    t = store.claim("w", ["e"], 30)
    store.finish(t.id, "w", TaskStatus.FAILED, error=ErrorInfo("x", "y"))  # type: ignore[union-attr]
    assert store.unreferenced([shared, own]) == [own]
    assert store.live_input_keys() == {shared}
    store.delete_tasks(["t0001"], key_id)
    assert store.unreferenced([shared, own]) == [shared, own]


def test_expired_results(store: SqlStore, key_id: str, clock: Clock) -> None:
    store.submit([task(key_id)], None, "{}")
    t = store.claim("w", ["e"], 30)
    store.finish(t.id, "w", TaskStatus.COMPLETED, result_key="res.jpg")  # type: ignore[union-attr]
    assert store.expired_results(clock.now - 10) == []
    clock.now += 100
    [expired] = store.expired_results(clock.now - 10)
    assert expired.result_key == "res.jpg"
    assert store.task_by_result("res.jpg") is not None
    store.forget_result(expired.task_id)
    assert store.task_by_result("res.jpg") is None


def test_count_by_status(store: SqlStore, key_id: str) -> None:
    store.submit([task(key_id, n) for n in range(3)], None, "{}")
    store.claim("w", ["e"], 30)
    counts = store.count_by_status()
    assert counts["queued"] == 2 and counts["processing"] == 1 and counts["completed"] == 0


def test_queued_count(store: SqlStore, key_id: str) -> None:
    store.submit([task(key_id, n) for n in range(3)], None, "{}")
    store.claim("w", ["e"], 30)
    assert store.queued_count() == 2
