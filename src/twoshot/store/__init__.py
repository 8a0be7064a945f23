"""Persistence of tasks, batches and API keys, and the lease queue. See ``base.Store``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from twoshot.store.base import (
    Ended,
    Expired,
    Heartbeat,
    Hit,
    Idempotency,
    Queue,
    Store,
    UsageRow,
    WorkerSeen,
)
from twoshot.store.sql import SqlStore, make_engine

__all__ = [
    "Ended",
    "Expired",
    "Heartbeat",
    "Hit",
    "Idempotency",
    "Queue",
    "SqlStore",
    "Store",
    "UsageRow",
    "WorkerSeen",
    "make_engine",
    "migrate",
    "open_store",
]

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (alembic, in-process).

    It runs in one write transaction (``BEGIN IMMEDIATE`` on SQLite, under an advisory lock
    on PostgreSQL), so two processes starting at once do not both try to create the tables.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        conn = conn.execution_options(twoshot_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":  # replicas starting together: one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(727687)"))
            if conn.dialect.name == "sqlite":
                # a batch migration rebuilds a table and renames the copy into place; SQLite
                # then re-checks every view, and one on the table (queue_depth) fails the
                # rename while the table is away. The legacy rename skips that check.
                conn.exec_driver_sql("PRAGMA legacy_alter_table=ON")
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            finally:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA legacy_alter_table=OFF")


def open_store(url: str) -> SqlStore:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    migrate(engine)
    return SqlStore(engine)
