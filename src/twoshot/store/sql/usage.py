"""What the dashboard reads: usage per key and day, an account's tasks, and the workers.

Every read is scoped by account (``None``: every account, for admins), so one account's
rows never answer another's question.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, func, or_, select

from twoshot.domain import Task, TaskStatus
from twoshot.store.base import UsageRow, WorkerSeen
from twoshot.store.schema import SUBMITTED, api_keys, tasks, usage_daily, workers
from twoshot.store.sql.base import SqlBase, dt


def _keys_of(account_id: str | None, key_id: str | None = None) -> Select[tuple[str]]:
    """The ids of the account's keys (every key for ``None``), or of one of them."""
    mine = select(api_keys.c.id)
    if account_id is not None:
        mine = mine.where(api_keys.c.account_id == account_id)
    if key_id is not None:
        mine = mine.where(api_keys.c.id == key_id)
    return mine


def daily_rows(
    conn: Connection,
    table: Table,
    what: str,
    account_id: str | None,
    first_day: int,
    key_id: str | None,
    *only: ColumnElement[bool],
) -> list[UsageRow]:
    """Rows of a per-(key, day, ``what``) count table from ``first_day``, for the account's
    keys (or one of them), in (day, key, ``what``) order; ``only``: further conditions."""
    rows = conn.execute(
        select(table)
        .where(
            table.c.api_key_id.in_(_keys_of(account_id, key_id)),
            table.c.day >= first_day,
            *only,
        )
        .order_by(table.c.day, table.c.api_key_id, table.c[what])
    ).all()
    return [UsageRow(r.day, r.api_key_id, r._mapping[what], int(r._mapping["count"])) for r in rows]


class UsageStore(SqlBase):
    def usage(
        self, account_id: str | None, first_day: int, key_id: str | None = None
    ) -> list[UsageRow]:
        """Ended tasks per (day, key, outcome) from ``first_day`` (days since the epoch, UTC)."""
        with self._read() as conn:
            return daily_rows(
                conn,
                usage_daily,
                "status",
                account_id,
                first_day,
                key_id,
                usage_daily.c.status != SUBMITTED,  # submissions count only tasks_today
            )

    def submitted_since(self, account_id: str | None, since: float) -> dict[str, int]:
        """Tasks submitted from the UTC day of ``since`` on, per key of the account (keys
        with none left out). Counted at submission, like the usage chart's outcomes, so
        deleting a task does not take it back."""
        with self._read() as conn:
            rows = conn.execute(
                select(usage_daily.c.api_key_id, func.sum(usage_daily.c.count))
                .where(
                    usage_daily.c.api_key_id.in_(_keys_of(account_id)),
                    usage_daily.c.day >= int(since // 86400),
                    usage_daily.c.status == SUBMITTED,
                )
                .group_by(usage_daily.c.api_key_id)
            ).all()
        return {key_id: int(n) for key_id, n in rows}

    def durations(
        self, account_id: str | None, since: float, key_id: str | None = None, limit: int = 5000
    ) -> list[tuple[float, float]]:
        """(queue wait, run time) in seconds of the latest completed tasks since ``since``."""
        with self._read() as conn:
            rows = conn.execute(
                select(tasks.c.created_at, tasks.c.started_at, tasks.c.finished_at)
                .where(
                    tasks.c.api_key_id.in_(_keys_of(account_id, key_id)),
                    tasks.c.created_at >= since,
                    tasks.c.status == TaskStatus.COMPLETED.value,
                    tasks.c.started_at.is_not(None),
                )
                .order_by(tasks.c.created_at.desc())
                .limit(limit)
            ).all()
        return [(r.started_at - r.created_at, r.finished_at - r.started_at) for r in rows]

    def account_tasks(
        self,
        account_id: str | None,
        *,
        key_id: str | None = None,
        status: str | None = None,
        before: float | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[Task]:
        """The account's latest tasks, newest first (ties by id); the page after the task
        (``before``: its created_at, ``before_id``: its id). Without ``before_id`` every
        task created at ``before`` is skipped, as before."""
        query = select(tasks).where(tasks.c.api_key_id.in_(_keys_of(account_id, key_id)))
        if status is not None:
            query = query.where(tasks.c.status == status)
        if before is not None and before_id is not None:
            query = query.where(
                or_(
                    tasks.c.created_at < before,
                    and_(tasks.c.created_at == before, tasks.c.id > before_id),
                )
            )
        elif before is not None:
            query = query.where(tasks.c.created_at < before)
        with self._read() as conn:
            rows = conn.execute(
                query.order_by(tasks.c.created_at.desc(), tasks.c.id).limit(limit)
            ).all()
        return [self._task(r) for r in rows]

    def account_task(self, account_id: str | None, task_id: str) -> Task | None:
        with self._read() as conn:
            row = conn.execute(
                select(tasks).where(
                    tasks.c.id == task_id, tasks.c.api_key_id.in_(_keys_of(account_id))
                )
            ).first()
        return None if row is None else self._task(row)

    def list_workers(self, seen_since: float) -> list[WorkerSeen]:
        """Workers heard from since ``seen_since``, latest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(workers)
                .where(workers.c.last_seen >= seen_since)
                .order_by(workers.c.last_seen.desc())
            ).all()
        return [
            WorkerSeen(
                owner=r.owner,
                engines=tuple(e for e in r.engines.split(",") if e),
                task_id=r.task_id,
                first_seen=dt(r.first_seen),  # type: ignore[arg-type]
                last_seen=dt(r.last_seen),  # type: ignore[arg-type]
            )
            for r in rows
        ]
