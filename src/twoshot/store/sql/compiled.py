"""A read compiled once and run on a DB-API connection (the hot path of every poll)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, Select


class CompiledRead:
    """A read compiled once and run on a DB-API connection, skipping SQLAlchemy's
    per-execution machinery: for the one query on the hot path of every poll.

    ``own_connection`` gives the calling thread's own connection when it has one (an
    inline reader, see ``SqlBase.inline``); other threads check one out of the pool."""

    def __init__(
        self,
        engine: Engine,
        statement: Select[Any],
        *,
        own_connection: Callable[[], Any | None] = lambda: None,
    ):
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = compiled.string
        self._order = compiled.positiontup if compiled.positional else None
        self._own = own_connection

    def first(self, params: dict[str, Any]) -> SimpleNamespace | None:
        args: Any = tuple(params[k] for k in self._order) if self._order is not None else params
        own = self._own()
        conn = own if own is not None else self._engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self._sql, args)
                row = cursor.fetchone()
                names = [d[0] for d in cursor.description] if row is not None else []
            finally:
                cursor.close()
        finally:
            if own is None:
                conn.close()
        return None if row is None else SimpleNamespace(**dict(zip(names, row, strict=True)))
