"""The plumbing every part of the SQL store shares: the engine, transactions, rows ↔ tasks,
and the one operation by which a task ends.

SQLite (WAL, the embedded default) and PostgreSQL run one code path. On SQLite every write
transaction is ``BEGIN IMMEDIATE``, which serialises writers; on PostgreSQL claims use
``SELECT … FOR UPDATE SKIP LOCKED`` and every change of state is an ``UPDATE … RETURNING``
whose answer, not an earlier ``SELECT``, says which rows it changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.pool import NullPool

from twoshot.domain import ErrorInfo, JobSpec, Task, TaskStatus
from twoshot.store.base import Ended
from twoshot.store.schema import (
    TASK_END,
    sequences,
    task_inputs,
    tasks,
    usage_daily,
    webhook_deliveries,
)

log = logging.getLogger(__name__)

ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.PROCESSING.value)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def ts(value: datetime) -> float:
    return value.timestamp()


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """The engine for ``url``; ``pooled=False``: every connect opens a connection of its own
    (SQLite's event-loop readers, which must never wait for the pool)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if pooled else {"poolclass": NullPool}),
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # we emit BEGIN ourselves (below); pysqlite's implicit transactions get in the way
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("twoshot_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def upsert(conn: Connection, table: Table) -> Any:
    """The dialect's ``INSERT`` with ``ON CONFLICT`` (both speak it)."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def add_daily(
    conn: Connection, table: Table, column: str, api_key_id: str, day: int, what: str, n: int
) -> None:
    """Add ``n`` to the row of a per-(key, day, ``column``) count table (``usage_daily``,
    ``refusals_daily``), made at ``n`` if there is none, in one statement."""
    conn.execute(
        upsert(conn, table)
        .values(api_key_id=api_key_id, day=day, count=n, **{column: what})
        .on_conflict_do_update(
            index_elements=["api_key_id", "day", column], set_={"count": table.c.count + n}
        )
    )


EndHook = Callable[[list[Ended]], None]
ProgressHook = Callable[[list[str]], None]


def call_hooks(hooks: Sequence[Callable[[Any], None]], arg: Any, what: str) -> None:
    for hook in hooks:
        try:
            hook(arg)
        except Exception:  # what the hook reports did happen; the sweeper catches the rest
            log.exception(what)


class SqlBase:
    """Transactions, the end hook and the row conversions; the concerns are mixins of it."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time):
        self._engine = engine
        self._clock = clock
        self._end_hooks: list[EndHook] = []
        self._progress_hooks: list[ProgressHook] = []
        # a local SQLite file answers a keyed read in ~0.1 ms: cheaper to run on the event
        # loop than to hop to a thread; a networked database always goes to a thread
        self.inline_reads = engine.dialect.name == "sqlite"
        # an inline reader's thread reads on a connection of its own, outside the pool: the
        # event loop must never wait for a connection that threads hold
        self._readers = make_engine(str(engine.url), pooled=False) if self.inline_reads else None
        self._here = threading.local()
        self._own: list[Connection] = []
        self._own_lock = threading.Lock()

    @contextmanager
    def inline(self) -> Iterator[None]:
        """Reads made inside run on this thread's own connection, never waiting for the
        pool: for the event loop's cheap keyed reads (``inline_reads``)."""
        if self._readers is None:
            raise RuntimeError("inline reads are for SQLite; run this read in a thread")
        self._here.inline = True
        try:
            yield
        finally:
            self._here.inline = False

    def _own_connection(self) -> Connection | None:
        if self._readers is None or not getattr(self._here, "inline", False):
            return None
        conn: Connection | None = getattr(self._here, "conn", None)
        if conn is None:
            conn = self._here.conn = self._readers.connect()
            with self._own_lock:
                self._own.append(conn)
        return conn

    def inline_connection(self) -> Any:
        """This thread's own raw SQLite connection for inline reads, without ``inline()``
        around each read: for the poll fast path, which reads on the event loop's thread."""
        raw = getattr(self._here, "raw", None)
        if raw is None:
            inline = getattr(self._here, "inline", False)
            self._here.inline = True
            try:
                raw = self._here.raw = self._own_dbapi_connection()
            finally:
                self._here.inline = inline
        return raw

    def _own_dbapi_connection(self) -> Any | None:
        own = self._own_connection()
        return None if own is None else own.connection.dbapi_connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        own = self._own_connection()
        if own is not None:
            with own.begin():
                yield own
            return
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn = conn.execution_options(twoshot_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _ending(self) -> Iterator[tuple[Connection, list[Ended]]]:
        """A write transaction that may end tasks: the end hooks hear of them after the
        commit, once per task, and not at all if the transaction rolls back."""
        ended: list[Ended] = []
        with self._write() as conn:
            yield conn, ended
            if ended:
                self._number_ends(conn, [e.id for e in ended])
        if ended:
            call_hooks(self._end_hooks, ended, "a task-ended hook failed")

    @staticmethod
    def _number_ends(conn: Connection, task_ids: list[str]) -> None:
        """Give the tasks this transaction ended the next end number: the order in which
        ends commit. The counter's row stays locked until the commit, so a later number
        never becomes visible before an earlier one (an event stream that has seen number n
        has seen every end up to n); it is the last lock an ending transaction takes, so it
        closes no deadlock cycle."""
        seq = conn.execute(
            upsert(conn, sequences)
            .values(name=TASK_END, value=1)
            .on_conflict_do_update(index_elements=["name"], set_={"value": sequences.c.value + 1})
            .returning(sequences.c.value)
        ).scalar_one()
        conn.execute(tasks.update().where(tasks.c.id.in_(task_ids)).values(end_seq=seq))

    def on_ended(self, hook: EndHook) -> None:
        """Call ``hook`` after each commit that ended tasks (in the committing thread)."""
        self._end_hooks.append(hook)

    def on_progress(self, hook: ProgressHook) -> None:
        """Call ``hook`` after each commit that recorded a task's progress."""
        self._progress_hooks.append(hook)

    def close(self) -> None:
        with self._own_lock:
            own, self._own = self._own, []
        for conn in own:
            conn.close()
        self._here = threading.local()
        if self._readers is not None:
            self._readers.dispose()
        self._engine.dispose()

    # -- the one way a task ends ----------------------------------------------------------------

    def _end(
        self,
        conn: Connection,
        ended: list[Ended],
        where: ColumnElement[bool],
        status: TaskStatus,
        now: float,
        *,
        webhooks: bool = True,
        **values: Any,
    ) -> list[str]:
        """Move the active tasks matching ``where`` to the terminal ``status``.

        The ids come from the UPDATE's own ``RETURNING``: a concurrent transaction that ended
        a task first leaves nothing here, so webhooks are queued, and hooks called, for
        exactly the tasks this call ended."""
        if not status.is_terminal():
            raise ValueError(f"a task ends in a terminal status, not {status.value}")
        rows = conn.execute(
            tasks.update()
            .where(where, tasks.c.status.in_(ACTIVE))
            .values(
                status=status.value,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                finished_at=now,
                **values,
            )
            .returning(tasks.c.id, tasks.c.api_key_id)
        ).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        self._count_daily(conn, Counter(r.api_key_id for r in rows), status.value, now)
        if webhooks:
            self._enqueue_webhooks(conn, ids, now)
        inputs: dict[str, list[str]] = {i: [] for i in ids}
        for r in conn.execute(
            select(task_inputs.c.task_id, task_inputs.c.blob_key)
            .where(task_inputs.c.task_id.in_(ids))
            .order_by(task_inputs.c.task_id, task_inputs.c.blob_key)
        ):
            inputs[r.task_id].append(r.blob_key)
        ended.extend(Ended(i, tuple(inputs[i])) for i in sorted(ids))
        return ids

    @staticmethod
    def _count_daily(conn: Connection, per_key: Counter[str], what: str, now: float) -> None:
        """The dashboard's usage: images per key, day and outcome (or ``submitted``), in the
        transaction that ends or submits them; deleting a task later does not undo it."""
        day = int(now // 86400)
        for key_id, n in sorted(per_key.items()):  # one order: no deadlock between writers
            add_daily(conn, usage_daily, "status", key_id, day, what, n)

    def _enqueue_webhooks(self, conn: Connection, task_ids: Sequence[str], now: float) -> None:
        """In the transaction that ends the tasks: nothing finished is left unsent."""
        rows = conn.execute(
            select(tasks.c.id, tasks.c.api_key_id, tasks.c.webhook_url).where(
                tasks.c.id.in_(list(task_ids)), tasks.c.webhook_url.is_not(None)
            )
        ).all()
        if rows:
            conn.execute(
                webhook_deliveries.insert(),
                [
                    {
                        "id": uuid.uuid4().hex,
                        "task_id": r.id,
                        "api_key_id": r.api_key_id,
                        "url": r.webhook_url,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for r in rows
                ],
            )

    # -- rows ↔ tasks ----------------------------------------------------------------------------

    @staticmethod
    def _task_row(t: Task) -> dict[str, Any]:
        return {
            "id": t.id,
            "api_key_id": t.api_key_id,
            "batch_id": t.batch_id,
            "batch_index": t.batch_index,
            "kind": t.kind,
            "engine": t.engine,
            "status": t.status.value,
            "spec": t.spec.model_dump_json(),
            "progress": t.progress,
            "attempts": t.attempts,
            "max_attempts": t.max_attempts,
            "cancel_requested": False,
            "created_at": ts(t.created_at),
            "updated_at": ts(t.updated_at),
            "webhook_url": t.webhook_url,
            "public_url": t.public_url,
        }

    @staticmethod
    def _task(row: Any) -> Task:
        error = ErrorInfo(row.error_code, row.error_message or "") if row.error_code else None
        return Task(
            id=row.id,
            api_key_id=row.api_key_id,
            batch_id=row.batch_id,
            batch_index=row.batch_index,
            kind=row.kind,
            engine=row.engine,
            status=TaskStatus(row.status),
            # our own rows, validated when written: construct, don't validate again
            spec=JobSpec.model_construct(**json.loads(row.spec)),
            progress=row.progress,
            error=error,
            result_key=row.result_key,
            quality=json.loads(row.quality) if row.quality else None,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            lease_owner=row.lease_owner,
            lease_expires_at=dt(row.lease_expires_at),
            cancel_requested=bool(row.cancel_requested),
            created_at=dt(row.created_at),  # type: ignore[arg-type]
            updated_at=dt(row.updated_at),  # type: ignore[arg-type]
            finished_at=dt(row.finished_at),
            webhook_url=row.webhook_url,
            public_url=row.public_url,
            end_seq=row.end_seq,
            claims=row.claims,
        )
