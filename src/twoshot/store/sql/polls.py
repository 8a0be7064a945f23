"""The reads behind task-status's fast path (``twoshot.api.fastpath``): only the columns the
body shows, the caller's key (not revoked, its account not disabled) checked in the same
statement, rows handed back as plain tuples with no domain object built.

A miss (no such id, another key's, a bad key) is ``None``: the caller then answers through
the ordinary route, which tells a 401 from a 404 exactly as before.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Select, bindparam, select

from twoshot.store.schema import accounts, api_keys, batches, tasks
from twoshot.store.sql.compiled import CompiledRead

t, k, a, b = tasks.c, api_keys.c, accounts.c, batches.c


def _keyed(query: Select[Any], owner: Any) -> Select[Any]:
    """``query`` of rows owned by ``owner`` (an api_key_id column), for a live key only."""
    return (
        query.join(api_keys, k.id == owner)
        .join(accounts, a.id == k.account_id)
        .where(k.key_hash == bindparam("digest"), k.revoked_at.is_(None), a.disabled_at.is_(None))
    )


# the order of TASK_COLUMNS is the order ``twoshot.api.fastpath`` reads them in
TASK_COLUMNS = (
    t.id,
    t.status,
    t.result_key,
    t.progress,
    t.error_code,
    t.error_message,
    t.created_at,
    t.updated_at,
    t.kind,
    t.engine,
    t.attempts,
    t.quality,
    t.batch_id,
)
_TASK = _keyed(select(*TASK_COLUMNS, k.key_hash).select_from(tasks), t.api_key_id).where(
    t.id == bindparam("ident")
)

# one statement for a batch and its items, so they are read at one instant
ITEM_COLUMNS = (t.id, t.status, t.result_key, t.progress, t.error_code, t.error_message)
_BATCH = (
    _keyed(
        select(b.kind, b.created_at, k.key_hash, *ITEM_COLUMNS, t.updated_at, t.quality)
        .select_from(batches)
        .outerjoin(tasks, t.batch_id == b.id),
        b.api_key_id,
    )
    .where(b.id == bindparam("ident"))
    .order_by(t.batch_index)
)


class _Rows(CompiledRead):
    """A ``CompiledRead`` that returns every row as a tuple (on an inline reader's own SQLite
    connection, from the driver's own ``execute``: about 6 µs a poll)."""

    def rows(self, params: dict[str, Any], own: Any = None) -> list[tuple[Any, ...]]:
        """``own``: the caller's own SQLite connection (else this thread's inline one, if
        any, else one from the pool)."""
        args: Any = tuple(params[n] for n in self._order) if self._order is not None else params
        own = own if own is not None else self._own()
        if own is not None:  # SQLite, this thread's own connection: straight to the driver
            return own.execute(self._sql, args).fetchall()
        conn = self._engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self._sql, args)
                return [tuple(r) for r in cursor.fetchall()]
            finally:
                cursor.close()
        finally:
            conn.close()


class PollReads:
    """task-status's two reads, compiled once for this store's database."""

    def __init__(self, engine: Engine, *, own_connection: Callable[[], Any | None]):
        self._task = _Rows(engine, _TASK, own_connection=own_connection)
        self._batch = _Rows(engine, _BATCH, own_connection=own_connection)

    def task(self, ident: str, digest: str, own: Any = None) -> tuple[Any, ...] | None:
        """The row of ``TASK_COLUMNS``, or None."""
        rows = self._task.rows({"ident": ident, "digest": digest}, own)
        if not rows or not hmac.compare_digest(rows[0][-1], digest):
            return None
        return rows[0][:-1]

    def batch(self, ident: str, digest: str, own: Any = None) -> list[tuple[Any, ...]] | None:
        """Rows of (kind, created_at, key_hash, *ITEM_COLUMNS, updated_at, quality), one per
        item in batch order (one row of NULL items for an empty batch), or None."""
        rows = self._batch.rows({"ident": ident, "digest": digest}, own)
        if not rows or not hmac.compare_digest(rows[0][2], digest):
            return None
        return rows
