"""Per-key usage counters for rate limits and quotas, throttles (sign-in attempts), and the
queue's depth."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select

from twoshot.domain import TaskStatus
from twoshot.store.schema import tasks, throttles, usage_counters
from twoshot.store.sql.base import SqlBase, upsert


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
                statement = (
                    upsert(conn, usage_counters)
                    .values(api_key_id=api_key_id, window=window, count=n, expires_at=expires_at)
                    .on_conflict_do_update(
                        index_elements=["api_key_id", "window"],
                        set_={"count": usage_counters.c.count + n},
                    )
                    .returning(usage_counters.c.count)
                )
                counts.append(int(conn.execute(statement).scalar_one()))
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

    def throttle(
        self, subjects: Sequence[str], window: str, expires_at: float, n: int = 1
    ) -> list[int]:
        """Add ``n`` (0: only read) to each subject's counter in ``window``; the counts."""
        counts = []
        with self._write() as conn:
            for subject in subjects:
                counts.append(
                    int(
                        conn.execute(
                            upsert(conn, throttles)
                            .values(subject=subject, window=window, count=n, expires_at=expires_at)
                            .on_conflict_do_update(
                                index_elements=["subject", "window"],
                                set_={"count": throttles.c.count + n},
                            )
                            .returning(throttles.c.count)
                        ).scalar_one()
                    )
                )
            conn.execute(delete(throttles).where(throttles.c.expires_at < self._clock()))
        return counts

    def clear_throttle(self, subject: str) -> None:
        with self._write() as conn:
            conn.execute(delete(throttles).where(throttles.c.subject == subject))

    def queued_count(self) -> int:
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(tasks)
                    .where(tasks.c.status == TaskStatus.QUEUED.value)
                ).scalar_one()
            )
