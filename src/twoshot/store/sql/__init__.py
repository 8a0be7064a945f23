"""The store on SQLAlchemy Core, for SQLite and PostgreSQL, one module per concern:

- ``base``: engine, transactions, rows ↔ tasks, and ``_end``, the one way a task ends;
- ``queue``: the lease queue (claim, heartbeat, finish, release, settling lost tasks);
- ``tasks``: submission, reading, cancel, delete and retention;
- ``keys``: API keys, worker tokens, webhook secrets;
- ``accounts``: accounts, one-time sign-in links, dashboard sessions;
- ``limits``: the one counter behind every limit, and queue depth;
- ``usage``: the dashboard's reads (usage per day, an account's tasks, workers);
- ``refusals``: content-policy refusals per key, day and code;
- ``webhooks``: the delivery rows;
- ``leases``: which process plays a role (the sweeper, webhooks) among all on the database.

``SqlStore`` is all of them; the contract suite in ``tests/store`` runs against it on both
databases.
"""

from __future__ import annotations

from twoshot.store.sql.accounts import AccountStore
from twoshot.store.sql.base import hash_secret, make_engine
from twoshot.store.sql.keys import KEY_PREFIX, WORKER_PREFIX, new_webhook_secret
from twoshot.store.sql.leases import LeaseStore
from twoshot.store.sql.limits import LimitStore
from twoshot.store.sql.queue import QueueStore
from twoshot.store.sql.refusals import RefusalStore
from twoshot.store.sql.tasks import TaskStore
from twoshot.store.sql.usage import UsageStore
from twoshot.store.sql.webhooks import WebhookStore

__all__ = [
    "KEY_PREFIX",
    "WORKER_PREFIX",
    "SqlStore",
    "hash_secret",
    "make_engine",
    "new_webhook_secret",
]


class SqlStore(
    QueueStore,
    TaskStore,
    AccountStore,
    LimitStore,
    UsageStore,
    RefusalStore,
    WebhookStore,
    LeaseStore,
):
    """The whole ``Store``."""
