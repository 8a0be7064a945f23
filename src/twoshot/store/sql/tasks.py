"""Tasks and batches: submission (with idempotency), reading, cancel, delete, retention."""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError

from twoshot.domain import ApiKey, Batch, Task, TaskStatus
from twoshot.errors import Conflict
from twoshot.store.base import Ended, Expired, Idempotency
from twoshot.store.schema import (
    SUBMITTED,
    accounts,
    api_keys,
    batches,
    idempotency,
    task_inputs,
    tasks,
)
from twoshot.store.sql.base import ACTIVE, dt, hash_secret, ts
from twoshot.store.sql.compiled import CompiledRead
from twoshot.store.sql.keys import KeyStore
from twoshot.store.sql.polls import PollReads

# the one query of every poll: the caller's key, its account and its task, joined
_TASK_FOR_SECRET = (
    select(tasks, api_keys.c.key_hash.label("owner_hash"))
    .join(api_keys, api_keys.c.id == tasks.c.api_key_id)
    .join(accounts, accounts.c.id == api_keys.c.account_id)
    .where(
        tasks.c.id == bindparam("task_id"),
        api_keys.c.key_hash == bindparam("digest"),
        api_keys.c.revoked_at.is_(None),
        accounts.c.disabled_at.is_(None),
    )
)


class TaskStore(KeyStore):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._task_for_secret = CompiledRead(
            self._engine, _TASK_FOR_SECRET, own_connection=self._own_dbapi_connection
        )
        self.polls = PollReads(
            self._engine, own_connection=self._own_dbapi_connection
        )  # api.fastpath

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
                            created_at=ts(batch.created_at),
                        )
                    )
                conn.execute(tasks.insert(), [self._task_row(t) for t in tasks_])
                per_key = Counter(t.api_key_id for t in tasks_)
                self._count_daily(conn, per_key, SUBMITTED, self._clock())
                conn.execute(
                    api_keys.update()
                    .where(api_keys.c.id.in_({t.api_key_id for t in tasks_}))
                    .values(last_used_at=self._clock())
                )
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
            created_at=dt(row.created_at),  # type: ignore[arg-type]
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

    # -- user actions -------------------------------------------------------------------------

    def cancel(self, task_id: str, api_key_id: str) -> Task | None:
        found = self.cancel_tasks([task_id], api_key_id)
        return found[0] if found else None

    def cancel_tasks(self, task_ids: Sequence[str], api_key_id: str) -> list[Task]:
        """Queued tasks end canceled now; running ones are flagged, and their workers stop at
        their next step (or, if a worker died, the next claim settles it). One transaction
        for all of them: a batch is canceled at once, its ends numbered together."""
        now = self._clock()
        mine = and_(tasks.c.id.in_(list(task_ids)), tasks.c.api_key_id == api_key_id)
        with self._ending() as (conn, ended):
            self._end(
                conn,
                ended,
                and_(mine, tasks.c.status == TaskStatus.QUEUED.value),
                TaskStatus.CANCELED,
                now,
            )
            conn.execute(
                tasks.update()
                .where(mine, tasks.c.status == TaskStatus.PROCESSING.value)
                .values(cancel_requested=True, updated_at=now)
            )
            rows = conn.execute(
                select(tasks).where(mine).order_by(tasks.c.batch_index, tasks.c.id)
            ).all()
        return [self._task(r) for r in rows]

    def delete_tasks(self, task_ids: Sequence[str], api_key_id: str) -> list[Task]:
        """Delete these tasks of the key (unknown ids are skipped); returns what was deleted,
        as it was, so the caller can delete the result files."""
        where = and_(tasks.c.id.in_(list(task_ids)), tasks.c.api_key_id == api_key_id)
        with self._ending() as (conn, ended):
            return self._delete(conn, ended, where)

    def delete_batch(self, batch_id: str, api_key_id: str) -> list[Task] | None:
        """Delete the batch, all its tasks and its row: its id is unknown afterwards."""
        with self._ending() as (conn, ended):
            mine = and_(batches.c.id == batch_id, batches.c.api_key_id == api_key_id)
            if conn.execute(select(batches.c.id).where(mine)).first() is None:
                return None
            gone = self._delete(conn, ended, tasks.c.batch_id == batch_id)
            conn.execute(delete(batches).where(mine))
        return gone

    def _delete(
        self, conn: Connection, ended: list[Ended], where: ColumnElement[bool]
    ) -> list[Task]:
        rows = conn.execute(select(tasks).where(where).order_by(tasks.c.batch_index, tasks.c.id))
        gone = [self._task(r) for r in rows]
        if not gone:
            return []
        ids = [t.id for t in gone]
        # tasks still running end here, as canceled: their inputs are released like any
        # other ended task's; no webhook, since the caller asked for the task to be forgotten
        self._end(
            conn, ended, tasks.c.id.in_(ids), TaskStatus.CANCELED, self._clock(), webhooks=False
        )
        conn.execute(delete(task_inputs).where(task_inputs.c.task_id.in_(ids)))
        conn.execute(delete(tasks).where(tasks.c.id.in_(ids)))
        return gone

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

    def referenced_results(self, names: Sequence[str]) -> set[str]:
        """The result names among ``names`` that a task still points to."""
        found: set[str] = set()
        names = list(names)
        with self._read() as conn:
            for i in range(0, len(names), 500):
                chunk = names[i : i + 500]
                found.update(
                    r.result_key
                    for r in conn.execute(
                        select(tasks.c.result_key).where(tasks.c.result_key.in_(chunk))
                    )
                )
        return found

    def expired_results(self, older_than: float, limit: int = 500) -> list[Expired]:
        with self._read() as conn:
            rows = conn.execute(
                select(tasks.c.id, tasks.c.result_key)
                .where(tasks.c.result_key.is_not(None), tasks.c.finished_at < older_than)
                .order_by(tasks.c.finished_at, tasks.c.id)  # one order: a bad row stays put
                .limit(limit)
            ).all()
        return [Expired(r.id, r.result_key) for r in rows]

    def forget_result(self, task_id: str) -> None:
        with self._write() as conn:
            conn.execute(tasks.update().where(tasks.c.id == task_id).values(result_key=None))
