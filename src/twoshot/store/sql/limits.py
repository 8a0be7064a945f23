"""The one counter behind every limit (the keys' rate limits and quotas, the sign-in
throttles, the verify limit), and the queue's depth.

A limit is only a limit if two requests at once cannot both see room for one: the counter
is raised and checked by one statement, an upsert whose update applies only while the new
count stays within the limit (``ON CONFLICT DO UPDATE … WHERE … RETURNING``). A request
over the limit changes nothing, so refusals never eat into the count of the next window,
and there is nothing to take back. SQLite serialises the writers (``BEGIN IMMEDIATE``);
PostgreSQL locks the row for the conflicting update and re-checks the ``WHERE`` on its
latest version. Every replica shares the counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, delete, func, select

from twoshot.domain import TaskStatus
from twoshot.store.base import Hit
from twoshot.store.schema import counters, tasks
from twoshot.store.sql.base import SqlBase, upsert


class _Over(Exception):
    def __init__(self, hit: Hit):
        self.hit = hit


class LimitStore(SqlBase):
    def count(self, hits: Sequence[Hit]) -> Hit | None:
        """Count every hit, or none: the first hit that would go over its limit is returned
        and the transaction (the hits before it included) is rolled back."""
        try:
            with self._write() as conn:
                for hit in hits:
                    if hit.limit and hit.n > hit.limit:
                        raise _Over(hit)
                    statement = (
                        upsert(conn, counters)
                        .values(
                            subject=hit.subject,
                            window=hit.window,
                            count=hit.n,
                            expires_at=hit.expires_at,
                        )
                        .on_conflict_do_update(
                            index_elements=["subject", "window"],
                            set_={"count": counters.c.count + hit.n},
                            where=(counters.c.count + hit.n <= hit.limit) if hit.limit else None,
                        )
                        .returning(counters.c.count)
                    )
                    if conn.execute(statement).first() is None:  # the WHERE refused it
                        raise _Over(hit)
                conn.execute(delete(counters).where(counters.c.expires_at < self._clock()))
        except _Over as over:
            return over.hit
        return None

    def uncount(self, hits: Sequence[Hit]) -> None:
        """Take counted hits back (a submission that failed after it was admitted)."""
        with self._write() as conn:
            for hit in hits:
                less = case((counters.c.count > hit.n, counters.c.count - hit.n), else_=0)
                conn.execute(
                    counters.update()
                    .where(counters.c.subject == hit.subject, counters.c.window == hit.window)
                    .values(count=less)
                )

    def counted(self, subject: str, window: str) -> int:
        with self._read() as conn:
            value = conn.execute(
                select(counters.c.count).where(
                    counters.c.subject == subject, counters.c.window == window
                )
            ).scalar()
        return int(value or 0)

    def clear_count(self, subject: str) -> None:
        """Forget every window of ``subject`` (an account that signed in)."""
        with self._write() as conn:
            conn.execute(delete(counters).where(counters.c.subject == subject))

    def queued_count(self) -> int:
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(tasks)
                    .where(tasks.c.status == TaskStatus.QUEUED.value)
                ).scalar_one()
            )
