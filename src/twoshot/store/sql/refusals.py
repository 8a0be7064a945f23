"""Content-policy refusals per key, day and code: counted when a submission is refused (no
task exists) and, for a withheld result, in the transaction that fails its task."""

from __future__ import annotations

from sqlalchemy import Connection

from twoshot.store.base import UsageRow
from twoshot.store.schema import refusals_daily
from twoshot.store.sql.base import SqlBase, add_daily
from twoshot.store.sql.usage import daily_rows

# task failure codes that are refusals too (the worker's nudity screen)
RESULT_REFUSALS = frozenset({"unsafe_content"})


def add_refusal(conn: Connection, api_key_id: str, code: str, day: int, n: int = 1) -> None:
    add_daily(conn, refusals_daily, "code", api_key_id, day, code, n)


class RefusalStore(SqlBase):
    def count_refusal(self, api_key_id: str, code: str, day: int) -> None:
        with self._write() as conn:
            add_refusal(conn, api_key_id, code[:32], day)

    def refusals(
        self, account_id: str | None, first_day: int, key_id: str | None = None
    ) -> list[UsageRow]:
        """Refusals per (day, key, code) from ``first_day``; ``status`` holds the code."""
        with self._read() as conn:
            return daily_rows(conn, refusals_daily, "code", account_id, first_day, key_id)
