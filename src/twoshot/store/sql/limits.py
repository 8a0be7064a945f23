"""Per-key usage counters for rate limits and quotas, and the queue's depth."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from twoshot.domain import TaskStatus
from twoshot.store.schema import tasks, usage_counters
from twoshot.store.sql.base import SqlBase


class LimitStore(SqlBase):
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
