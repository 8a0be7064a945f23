"""The store on SQLAlchemy Core: SQLite (WAL, the embedded default) and PostgreSQL, one code path.

Claims take the oldest runnable row under ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL;
on SQLite every write transaction is ``BEGIN IMMEDIATE``, which serialises writers, so the
same select-then-update is atomic there too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from twoshot.domain import (
    ApiKey,
    Batch,
    Delivery,
    ErrorInfo,
    JobSpec,
    Task,
    TaskStatus,
)
from twoshot.errors import Conflict
from twoshot.store.base import Expired, Heartbeat, Idempotency
from twoshot.store.schema import (
    api_keys,
    batches,
    idempotency,
    task_inputs,
    tasks,
    usage_counters,
    webhook_deliveries,
    worker_tokens,
)

KEY_PREFIX = "ts_"
WORKER_PREFIX = "tsw_"
ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.PROCESSING.value)

# Statements on the hot path of every request, built once: building a statement costs
# more than running it on SQLite.
_KEY_BY_HASH = select(api_keys).where(api_keys.c.key_hash == bindparam("digest"))
_TASK_FOR_SECRET = (
    select(tasks, api_keys.c.key_hash.label("owner_hash"))
    .join(api_keys, api_keys.c.id == tasks.c.api_key_id)
    .where(
        tasks.c.id == bindparam("task_id"),
        api_keys.c.key_hash == bindparam("digest"),
        api_keys.c.revoked_at.is_(None),
    )
)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

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


class _Prepared:
    """A read compiled once and run on a DB-API connection, skipping SQLAlchemy's
    per-execution machinery: for the one query on the hot path of every poll.

    With ``keep_connection`` (SQLite, whose reads run on the event loop's one thread) each
    thread keeps its connection instead of checking one out of the pool per call.
    """

    def __init__(self, engine: Engine, statement: Select[Any], *, keep_connection: bool):
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = compiled.string
        self._order = compiled.positiontup if compiled.positional else None
        self._local = threading.local() if keep_connection else None
        self._kept: list[Any] = []
        self._lock = threading.Lock()

    def _cursor_source(self) -> tuple[Any, bool]:
        if self._local is None:
            return self._engine.raw_connection(), True
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._engine.raw_connection()
            with self._lock:
                self._kept.append(conn)
        return conn, False

    def close(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, []
        for conn in kept:
            conn.close()
        self._local = threading.local() if self._local is not None else None

    def first(self, params: dict[str, Any]) -> SimpleNamespace | None:
        args: Any = tuple(params[k] for k in self._order) if self._order is not None else params
        conn, give_back = self._cursor_source()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self._sql, args)
                row = cursor.fetchone()
                names = [d[0] for d in cursor.description] if row is not None else []
            finally:
                cursor.close()
        finally:
            if give_back:
                conn.close()
        return None if row is None else SimpleNamespace(**dict(zip(names, row, strict=True)))


class SqlStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time):
        self._engine = engine
        self._clock = clock
        # a local SQLite file answers a keyed read in ~0.1 ms: cheaper to run on the event
        # loop than to hop to a thread; a networked database always goes to a thread
        self.inline_reads = engine.dialect.name == "sqlite"
        self._task_for_secret = _Prepared(
            engine, _TASK_FOR_SECRET, keep_connection=self.inline_reads
        )

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn = conn.execution_options(twoshot_write=True)
            with conn.begin():
                yield conn

    def close(self) -> None:
        self._task_for_secret.close()
        self._engine.dispose()

    # -- api keys ---------------------------------------------------------------------------

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=uuid.uuid4().hex[:16],
            name=name,
            prefix=secret[:10],
            created_at=_dt(self._clock()),  # type: ignore[arg-type]
        )
        with self._write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    name=name,
                    prefix=key.prefix,
                    key_hash=hash_secret(secret),
                    created_at=_ts(key.created_at),
                    webhook_secret=new_webhook_secret(),
                )
            )
        return key, secret

    def list_keys(self) -> list[ApiKey]:
        with self._read() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
        return [self._key(r) for r in rows]

    def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        with self._write() as conn:
            row = conn.execute(
                select(api_keys).where(
                    or_(api_keys.c.id == id_or_prefix, api_keys.c.prefix == id_or_prefix)
                )
            ).first()
            if row is None:
                return None
            if row.revoked_at is None:
                conn.execute(
                    api_keys.update()
                    .where(api_keys.c.id == row.id)
                    .values(revoked_at=self._clock())
                )
            row = conn.execute(select(api_keys).where(api_keys.c.id == row.id)).first()
        return self._key(row)

    def authenticate(self, secret: str) -> ApiKey | None:
        digest = hash_secret(secret)
        with self._read() as conn:
            row = conn.execute(_KEY_BY_HASH, {"digest": digest}).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at:
            return None
        return self._key(row)

    @staticmethod
    def _key(row: Any) -> ApiKey:
        return ApiKey(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            created_at=_dt(row.created_at),  # type: ignore[arg-type]
            revoked_at=_dt(row.revoked_at),
        )

    # -- worker tokens ------------------------------------------------------------------------

    def create_worker_token(self, name: str) -> tuple[str, str]:
        """(id, secret). The secret is shown once; only its hash is kept."""
        secret = WORKER_PREFIX + secrets.token_urlsafe(32)
        token_id = uuid.uuid4().hex[:16]
        with self._write() as conn:
            conn.execute(
                worker_tokens.insert().values(
                    id=token_id, name=name, token_hash=hash_secret(secret), created_at=self._clock()
                )
            )
        return token_id, secret

    def worker_for(self, secret: str) -> str | None:
        """The id of the live worker token with this secret."""
        digest = hash_secret(secret)
        with self._read() as conn:
            row = conn.execute(
                select(worker_tokens).where(worker_tokens.c.token_hash == digest)
            ).first()
        if (
            row is None
            or row.revoked_at is not None
            or not hmac.compare_digest(row.token_hash, digest)
        ):
            return None
        return str(row.id)

    def revoke_worker_token(self, token_id: str) -> bool:
        with self._write() as conn:
            done = conn.execute(
                worker_tokens.update()
                .where(worker_tokens.c.id == token_id, worker_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
        return done.rowcount == 1

    # -- submission -------------------------------------------------------------------------

    def submit(
        self,
        tasks_: Sequence[Task],
        batch: Batch | None,
        response: str,
        idempotency_: Idempotency | None = None,
    ) -> str | None:
        try:
            with self._write() as conn:
                if idempotency_ is not None:
                    existing = self._idempotent(conn, idempotency_)
                    if existing is not None:
                        return existing
                    conn.execute(
                        idempotency.insert().values(
                            api_key_id=idempotency_.api_key_id,
                            key=idempotency_.key,
                            fingerprint=idempotency_.fingerprint,
                            response=response,
                            created_at=self._clock(),
                        )
                    )
                if batch is not None:
                    conn.execute(
                        batches.insert().values(
                            id=batch.id,
                            api_key_id=batch.api_key_id,
                            kind=batch.kind,
                            created_at=_ts(batch.created_at),
                        )
                    )
                conn.execute(tasks.insert(), [self._task_row(t) for t in tasks_])
                links = [
                    {"task_id": t.id, "blob_key": k} for t in tasks_ for k in t.spec.input_keys()
                ]
                if links:
                    conn.execute(task_inputs.insert(), links)
        except IntegrityError:
            # a concurrent request with the same Idempotency-Key won the race
            if idempotency_ is None:
                raise
            return self.idempotent_response(idempotency_)
        return None

    def idempotent_response(self, idempotency_: Idempotency) -> str | None:
        with self._read() as conn:
            return self._idempotent(conn, idempotency_)

    @staticmethod
    def _idempotent(conn: Connection, key: Idempotency) -> str | None:
        row = conn.execute(
            select(idempotency).where(
                idempotency.c.api_key_id == key.api_key_id, idempotency.c.key == key.key
            )
        ).first()
        if row is None:
            return None
        if row.fingerprint != key.fingerprint:
            raise Conflict(
                "this Idempotency-Key was already used with a different request; "
                "send a new key for a new request",
                code="idempotency_key_reused",
                field="Idempotency-Key",
            )
        return str(row.response)

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
            "created_at": _ts(t.created_at),
            "updated_at": _ts(t.updated_at),
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
            lease_expires_at=_dt(row.lease_expires_at),
            cancel_requested=bool(row.cancel_requested),
            created_at=_dt(row.created_at),  # type: ignore[arg-type]
            updated_at=_dt(row.updated_at),  # type: ignore[arg-type]
            finished_at=_dt(row.finished_at),
            webhook_url=row.webhook_url,
            public_url=row.public_url,
        )

    # -- reading ----------------------------------------------------------------------------

    def get_task(self, task_id: str, api_key_id: str | None = None) -> Task | None:
        query = select(tasks).where(tasks.c.id == task_id)
        if api_key_id is not None:
            query = query.where(tasks.c.api_key_id == api_key_id)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._task(row)

    def get_batch(self, batch_id: str, api_key_id: str | None = None) -> Batch | None:
        query = select(batches).where(batches.c.id == batch_id)
        if api_key_id is not None:
            query = query.where(batches.c.api_key_id == api_key_id)
        with self._read() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            items = conn.execute(
                select(tasks).where(tasks.c.batch_id == batch_id).order_by(tasks.c.batch_index)
            ).all()
        return Batch(
            id=row.id,
            api_key_id=row.api_key_id,
            kind=row.kind,
            created_at=_dt(row.created_at),  # type: ignore[arg-type]
            tasks=[self._task(r) for r in items],
        )

    def task_for_secret(self, task_id: str, secret: str) -> tuple[ApiKey | None, Task | None]:
        """The caller's key and its task, in one query on the hot path of task-status."""
        digest = hash_secret(secret)
        row = self._task_for_secret.first({"task_id": task_id, "digest": digest})
        if row is not None and hmac.compare_digest(row.owner_hash, digest):
            task = self._task(row)
            key = ApiKey(id=task.api_key_id, name="", prefix="", created_at=task.created_at)
            return key, task
        return self.authenticate(secret), None

    def task_by_result(self, result_key: str) -> Task | None:
        with self._read() as conn:
            row = conn.execute(select(tasks).where(tasks.c.result_key == result_key)).first()
        return None if row is None else self._task(row)

    def count_by_status(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(select(tasks.c.status, func.count()).group_by(tasks.c.status)).all()
        counts = {s.value: 0 for s in TaskStatus}
        counts.update({status: n for status, n in rows})
        return counts

    # -- the lease queue ----------------------------------------------------------------------

    def claim(self, owner: str, engines: Sequence[str], lease_seconds: float) -> Task | None:
        now = self._clock()
        mine = tasks.c.engine.in_(list(engines))
        # Two indexed lookups rather than one query with OR, which the planners answer by
        # scanning the table: first a task whose worker died, then the oldest queued one.
        expired = (
            select(tasks.c.id)
            .where(
                tasks.c.status == TaskStatus.PROCESSING.value, tasks.c.lease_expires_at < now, mine
            )
            .order_by(tasks.c.lease_expires_at)
        )
        queued = (
            select(tasks.c.id)
            .where(tasks.c.status == TaskStatus.QUEUED.value, mine)
            .order_by(tasks.c.created_at, tasks.c.id)
        )
        with self._write() as conn:
            self._settle_lost(conn, now)
            row = None
            for candidates in (expired, queued):
                row = conn.execute(candidates.limit(1).with_for_update(skip_locked=True)).first()
                if row is not None:
                    break
            if row is None:
                return None
            claimed = conn.execute(
                tasks.update()
                .where(tasks.c.id == row.id)
                .values(
                    status=TaskStatus.PROCESSING.value,
                    lease_owner=owner,
                    lease_expires_at=now + lease_seconds,
                    attempts=tasks.c.attempts + 1,
                    progress=0.0,
                    updated_at=now,
                )
                .returning(*tasks.c)
            ).first()
        return self._task(claimed)

    def _settle_lost(self, conn: Connection, now: float) -> None:
        """Expired leases that may not run again: out of attempts, or canceled meanwhile."""
        expired = and_(
            tasks.c.status == TaskStatus.PROCESSING.value, tasks.c.lease_expires_at < now
        )
        settled = [
            r.id
            for r in conn.execute(
                select(tasks.c.id).where(
                    expired,
                    or_(
                        tasks.c.cancel_requested.is_(True),
                        tasks.c.attempts >= tasks.c.max_attempts,
                    ),
                )
            )
        ]
        if not settled:
            return
        done = {
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "finished_at": now,
        }
        conn.execute(
            tasks.update()
            .where(expired, tasks.c.cancel_requested.is_(True))
            .values(status=TaskStatus.CANCELED.value, **done)
        )
        conn.execute(
            tasks.update()
            .where(expired, tasks.c.attempts >= tasks.c.max_attempts)
            .values(
                status=TaskStatus.FAILED.value,
                error_code="worker_lost",
                error_message="the worker running this task stopped answering "
                "on every attempt; submit it again",
                **done,
            )
        )
        self._enqueue_webhooks(conn, settled, now)

    def heartbeat(
        self, task_id: str, owner: str, progress: float | None, lease_seconds: float
    ) -> Heartbeat:
        now = self._clock()
        values: dict[str, Any] = {"lease_expires_at": now + lease_seconds, "updated_at": now}
        if progress is not None:
            values["progress"] = max(0.0, min(1.0, progress))
        with self._write() as conn:
            row = conn.execute(
                tasks.update()
                .where(
                    tasks.c.id == task_id,
                    tasks.c.lease_owner == owner,
                    tasks.c.status == TaskStatus.PROCESSING.value,
                )
                .values(**values)
                .returning(tasks.c.cancel_requested)
            ).first()
        if row is None:
            return Heartbeat(ours=False, cancel_requested=False)
        return Heartbeat(ours=True, cancel_requested=bool(row.cancel_requested))

    def finish(
        self,
        task_id: str,
        owner: str,
        status: TaskStatus,
        *,
        result_key: str | None = None,
        quality: dict | None = None,
        error: ErrorInfo | None = None,
    ) -> bool:
        if not status.is_terminal():
            raise ValueError(f"finish needs a terminal status, not {status.value}")
        now = self._clock()
        with self._write() as conn:
            done = conn.execute(
                tasks.update()
                .where(
                    tasks.c.id == task_id,
                    tasks.c.lease_owner == owner,
                    tasks.c.status == TaskStatus.PROCESSING.value,
                )
                .values(
                    status=status.value,
                    progress=1.0 if status is TaskStatus.COMPLETED else tasks.c.progress,
                    result_key=result_key,
                    quality=json.dumps(quality) if quality is not None else None,
                    error_code=error.code if error else None,
                    error_message=error.message if error else None,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                    finished_at=now,
                )
            )
            if done.rowcount == 1:
                self._enqueue_webhooks(conn, [task_id], now)
        return done.rowcount == 1

    def release(self, task_id: str, owner: str) -> bool:
        now = self._clock()
        with self._write() as conn:
            done = conn.execute(
                tasks.update()
                .where(
                    tasks.c.id == task_id,
                    tasks.c.lease_owner == owner,
                    tasks.c.status == TaskStatus.PROCESSING.value,
                )
                .values(
                    status=TaskStatus.QUEUED.value,
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=tasks.c.attempts - 1,
                    progress=0.0,
                    updated_at=now,
                )
            )
        return done.rowcount == 1

    # -- limits ---------------------------------------------------------------------------------

    def count_usage(
        self, api_key_id: str, windows: Sequence[tuple[str, float]], n: int
    ) -> list[int]:
        """Add ``n`` to each (window, expires_at) counter of the key; returns the new counts.

        One upsert per window in one transaction: every API replica sees the same counts.
        """
        counts = []
        with self._write() as conn:
            for window, expires_at in windows:
                insert = (
                    pg_insert(usage_counters)
                    if conn.dialect.name == "postgresql"
                    else sqlite_insert(usage_counters)
                )
                upsert = (
                    insert.values(
                        api_key_id=api_key_id, window=window, count=n, expires_at=expires_at
                    )
                    .on_conflict_do_update(
                        index_elements=["api_key_id", "window"],
                        set_={"count": usage_counters.c.count + n},
                    )
                    .returning(usage_counters.c.count)
                )
                counts.append(int(conn.execute(upsert).scalar_one()))
            conn.execute(delete(usage_counters).where(usage_counters.c.expires_at < self._clock()))
        return counts

    def uncount_usage(self, api_key_id: str, windows: Sequence[str], n: int) -> None:
        """Take back a refused request's count, so a 429 does not use up the quota."""
        with self._write() as conn:
            conn.execute(
                usage_counters.update()
                .where(
                    usage_counters.c.api_key_id == api_key_id,
                    usage_counters.c.window.in_(list(windows)),
                )
                .values(count=usage_counters.c.count - n)
            )

    def queued_count(self) -> int:
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(tasks)
                    .where(tasks.c.status == TaskStatus.QUEUED.value)
                ).scalar_one()
            )

    # -- webhooks -----------------------------------------------------------------------------

    def _enqueue_webhooks(self, conn: Connection, task_ids: Sequence[str], now: float) -> None:
        """In the transaction that makes the tasks terminal: nothing finished is left unsent."""
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

    def claim_deliveries(self, limit: int, lease_seconds: float) -> list[Delivery]:
        now = self._clock()
        d = webhook_deliveries.c
        with self._write() as conn:
            rows = conn.execute(
                select(webhook_deliveries)
                .where(d.status == "pending", d.next_attempt_at <= now)
                .order_by(d.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                conn.execute(
                    webhook_deliveries.update()
                    .where(d.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=now + lease_seconds)
                )
        return [Delivery(r.id, r.task_id, r.api_key_id, r.url, r.attempts) for r in rows]

    def delivery_done(self, delivery_id: str, *, error: str | None, retry_at: float | None) -> None:
        """Delivered (no error), to be tried again at ``retry_at``, or failed for good."""
        now = self._clock()
        values: dict[str, Any] = {
            "attempts": webhook_deliveries.c.attempts + 1,
            "last_error": error,
        }
        if error is None:
            values.update(status="delivered", delivered_at=now)
        elif retry_at is not None:
            values.update(status="pending", next_attempt_at=retry_at)
        else:
            values.update(status="failed")
        with self._write() as conn:
            conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(**values)
            )

    def deliveries(self, task_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(webhook_deliveries)
                .where(webhook_deliveries.c.task_id == task_id)
                .order_by(webhook_deliveries.c.created_at)
            ).all()
        return [
            {"status": r.status, "attempts": r.attempts, "last_error": r.last_error, "url": r.url}
            for r in rows
        ]

    def webhook_secret(self, api_key_id: str) -> str:
        with self._write() as conn:
            secret = conn.execute(
                select(api_keys.c.webhook_secret).where(api_keys.c.id == api_key_id)
            ).scalar_one()
            if secret is None:  # a key made before webhooks existed
                secret = new_webhook_secret()
                conn.execute(
                    api_keys.update()
                    .where(api_keys.c.id == api_key_id)
                    .values(webhook_secret=secret)
                )
        return str(secret)

    # -- user actions -------------------------------------------------------------------------

    def cancel(self, task_id: str, api_key_id: str) -> Task | None:
        now = self._clock()
        mine = and_(tasks.c.id == task_id, tasks.c.api_key_id == api_key_id)
        with self._write() as conn:
            canceled = conn.execute(
                tasks.update()
                .where(mine, tasks.c.status == TaskStatus.QUEUED.value)
                .values(status=TaskStatus.CANCELED.value, updated_at=now, finished_at=now)
            )
            if canceled.rowcount:
                self._enqueue_webhooks(conn, [task_id], now)
            conn.execute(
                tasks.update()
                .where(mine, tasks.c.status == TaskStatus.PROCESSING.value)
                .values(cancel_requested=True, updated_at=now)
            )
            row = conn.execute(select(tasks).where(mine)).first()
        return None if row is None else self._task(row)

    def delete(self, task_id: str, api_key_id: str) -> Task | None:
        mine = and_(tasks.c.id == task_id, tasks.c.api_key_id == api_key_id)
        with self._write() as conn:
            row = conn.execute(select(tasks).where(mine)).first()
            if row is None:
                return None
            conn.execute(delete(task_inputs).where(task_inputs.c.task_id == task_id))
            conn.execute(delete(tasks).where(mine))
        return self._task(row)

    # -- retention ----------------------------------------------------------------------------

    def unreferenced(self, blob_keys: Sequence[str]) -> list[str]:
        if not blob_keys:
            return []
        with self._read() as conn:
            live = {
                r.blob_key
                for r in conn.execute(
                    select(task_inputs.c.blob_key)
                    .join(tasks, tasks.c.id == task_inputs.c.task_id)
                    .where(task_inputs.c.blob_key.in_(list(blob_keys)), tasks.c.status.in_(ACTIVE))
                )
            }
        return [k for k in blob_keys if k not in live]

    def live_input_keys(self) -> set[str]:
        with self._read() as conn:
            return {
                r.blob_key
                for r in conn.execute(
                    select(task_inputs.c.blob_key)
                    .join(tasks, tasks.c.id == task_inputs.c.task_id)
                    .where(tasks.c.status.in_(ACTIVE))
                    .distinct()
                )
            }

    def expired_results(self, older_than: float, limit: int = 500) -> list[Expired]:
        with self._read() as conn:
            rows = conn.execute(
                select(tasks.c.id, tasks.c.result_key)
                .where(tasks.c.result_key.is_not(None), tasks.c.finished_at < older_than)
                .limit(limit)
            ).all()
        return [Expired(r.id, r.result_key) for r in rows]

    def forget_result(self, task_id: str) -> None:
        with self._write() as conn:
            conn.execute(tasks.update().where(tasks.c.id == task_id).values(result_key=None))
