"""The lease queue: claim, heartbeat, finish, release, and settling tasks whose worker died."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, select, text

from twoshot.domain import ErrorInfo, Task, TaskStatus
from twoshot.store.base import Ended, Heartbeat
from twoshot.store.schema import tasks, workers
from twoshot.store.sql.base import SqlBase, call_hooks, upsert
from twoshot.store.sql.refusals import RESULT_REFUSALS, add_refusal

PROCESSING = TaskStatus.PROCESSING.value


def _held(task_id: str, owner: str) -> ColumnElement[bool]:
    """The task, while ``owner`` holds its lease."""
    return and_(tasks.c.id == task_id, tasks.c.lease_owner == owner, tasks.c.status == PROCESSING)


# how often a worker's row is rewritten when nothing about it changed
SEEN_EVERY = 10.0


class QueueStore(SqlBase):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._seen: dict[str, tuple[float, str | None]] = {}  # owner: last write, task
        self._seen_lock = threading.Lock()  # workers' threads claim and beat at once

    def claim(self, owner: str, engines: Sequence[str], lease_seconds: float) -> Task | None:
        now = self._clock()
        mine = tasks.c.engine.in_(list(engines))
        # Two indexed lookups rather than one query with OR, which the planners answer by
        # scanning the table: first a task whose worker died, then the oldest queued one.
        expired = (
            select(tasks.c.id)
            .where(tasks.c.status == PROCESSING, tasks.c.lease_expires_at < now, mine)
            .order_by(tasks.c.lease_expires_at)
        )
        queued = (
            select(tasks.c.id)
            .where(tasks.c.status == TaskStatus.QUEUED.value, mine)
            .order_by(tasks.c.created_at, tasks.c.id)
        )
        with self._ending() as (conn, ended):
            self._settle_lost(conn, ended, now)
            row = None
            for candidates in (expired, queued):
                row = conn.execute(candidates.limit(1).with_for_update(skip_locked=True)).first()
                if row is not None:
                    break
            if row is None:
                self._saw(conn, owner, None, now, engines)
                return None
            self._saw(conn, owner, row.id, now, engines)
            claimed = conn.execute(
                tasks.update()
                .where(tasks.c.id == row.id)
                .values(
                    status=PROCESSING,
                    lease_owner=owner,
                    lease_expires_at=now + lease_seconds,
                    attempts=tasks.c.attempts + 1,
                    claims=tasks.c.claims + 1,
                    progress=0.0,
                    updated_at=now,
                    started_at=now,
                )
                .returning(*tasks.c)
            ).first()
        return self._task(claimed)

    def _saw(
        self,
        conn: Connection,
        owner: str,
        task_id: str | None,
        now: float,
        engines: Sequence[str] | None = None,
    ) -> None:
        """Record what the worker does, for the admin view: at once when its task changed,
        else at most every ``SEEN_EVERY`` seconds (an idle worker claims twice a second).
        Claims say the engines; heartbeats (``engines=None``) only refresh the row."""
        with self._seen_lock:
            last = self._seen.get(owner)
            if last is not None and last[1] == task_id and now - last[0] < SEEN_EVERY:
                return
            self._seen[owner] = (now, task_id)
            forget = len(self._seen) > 1000
            if forget:  # owners that went away
                self._seen = {o: v for o, v in self._seen.items() if now - v[0] < 3600}
        if engines is None:
            conn.execute(
                workers.update()
                .where(workers.c.owner == owner[:200])
                .values(task_id=task_id, last_seen=now)
            )
            return
        names = ",".join(engines)[:255]
        conn.execute(
            upsert(conn, workers)
            .values(
                owner=owner[:200],
                engines=names,
                task_id=task_id,
                first_seen=now,
                last_seen=now,
            )
            .on_conflict_do_update(
                index_elements=["owner"],
                set_={"engines": names, "task_id": task_id, "last_seen": now},
            )
        )
        if forget:
            conn.execute(delete(workers).where(workers.c.last_seen < now - 86400))

    def _settle_lost(self, conn: Connection, ended: list[Ended], now: float) -> None:
        """Expired leases that may not run again: canceled meanwhile, or out of attempts."""
        expired = and_(tasks.c.status == PROCESSING, tasks.c.lease_expires_at < now)
        self._end(
            conn, ended, and_(expired, tasks.c.cancel_requested.is_(True)), TaskStatus.CANCELED, now
        )
        self._end(
            conn,
            ended,
            and_(expired, tasks.c.attempts >= tasks.c.max_attempts),
            TaskStatus.FAILED,
            now,
            error_code="worker_lost",
            error_message="the worker running this task stopped answering "
            "on every attempt; submit it again",
        )

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
                .where(_held(task_id, owner))
                .values(**values)
                .returning(tasks.c.cancel_requested)
            ).first()
            if row is not None:
                self._saw(conn, owner, task_id, now)
        if row is not None and progress is not None:
            call_hooks(self._progress_hooks, [task_id], "a progress hook failed")
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
        ours = _held(task_id, owner)
        with self._ending() as (conn, ended):
            done = self._end(
                conn,
                ended,
                ours,
                status,
                self._clock(),
                progress=1.0 if status is TaskStatus.COMPLETED else tasks.c.progress,
                result_key=result_key,
                quality=json.dumps(quality) if quality is not None else None,
                error_code=error.code if error else None,
                error_message=error.message if error else None,
            )
            if done and error is not None and error.code in RESULT_REFUSALS:
                key_id = conn.execute(select(tasks.c.api_key_id).where(tasks.c.id == task_id))
                add_refusal(conn, key_id.scalar_one(), error.code, int(self._clock() // 86400))
        return bool(done)

    def release(self, task_id: str, owner: str) -> bool:
        now = self._clock()
        with self._write() as conn:
            done = conn.execute(
                tasks.update()
                .where(_held(task_id, owner))
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

    def queue_depth(self) -> dict[str, int]:
        """Queued plus running tasks per engine, read from the ``queue_depth`` view (migration
        0010): the number the chart's KEDA trigger reads too, so the gauge cannot disagree."""
        with self._read() as conn:
            rows = conn.execute(text("SELECT engine, depth FROM queue_depth")).all()
        return {engine: int(depth) for engine, depth in rows}

    # -- remote workers' uploads: one result name per task, issued to its lease holder -----

    def issue_upload(self, task_id: str, owner: str, name: str) -> bool:
        """Make ``name`` the one result name the holder of the task's lease may upload to."""
        with self._write() as conn:
            done = conn.execute(
                tasks.update().where(_held(task_id, owner)).values(upload_name=name)
            )
        return done.rowcount == 1

    def upload_for(self, task_id: str, owner: str) -> tuple[bool, str | None]:
        """Whether ``owner`` holds the task's lease, and the upload name issued for it."""
        with self._read() as conn:
            row = conn.execute(select(tasks.c.upload_name).where(_held(task_id, owner))).first()
        return (False, None) if row is None else (True, row.upload_name)

    def upload_holder(self, name: str) -> str | None:
        """The lease owner of the running task that ``name`` was issued for, if any."""
        with self._read() as conn:
            row = conn.execute(
                select(tasks.c.lease_owner).where(
                    tasks.c.upload_name == name, tasks.c.status == PROCESSING
                )
            ).first()
        return None if row is None else row.lease_owner
