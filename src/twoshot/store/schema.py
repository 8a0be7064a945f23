"""The tables, as SQLAlchemy Core metadata. Times are UNIX seconds (float) on every backend.

The migrations under ``migrations/versions`` create exactly these; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

DEFAULT_ACCOUNT = "default"  # owns the keys made without --account (and every older key)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-case
    Column("name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=True),  # argon2id; none until a link is used
    Column("is_admin", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("disabled_at", Float, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("webhook_secret", String(64), nullable=True),
    # every key has an account (the migration gave older keys the default one); the column
    # stays nullable only because SQLite cannot add a NOT NULL reference to a filled table
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=True),
    Column("rate_limit_per_minute", Integer, nullable=True),  # None: the server's default
    Column("quota_per_day", Integer, nullable=True),
    Column("last_used_at", Float, nullable=True),  # its last accepted submission
    Index("ix_api_keys_account", "account_id"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("api_key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("api_key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("batch_id", String(48), ForeignKey("batches.id", ondelete="SET NULL"), nullable=True),
    Column("batch_index", Integer, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("spec", Text, nullable=False),
    Column("progress", Float, nullable=False, default=0.0),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("result_key", String(96), nullable=True, unique=True),
    Column("quality", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(96), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("started_at", Float, nullable=True),  # its last claim: queue wait and run time
    Column("webhook_url", Text, nullable=True),
    Column("public_url", String(255), nullable=True),
    # the order in which ends committed (``sequences.task_end``): the event streams' cursor
    Column("end_seq", BigInteger, nullable=True),
    # claims ever made (``attempts`` less the hand-backs): which run a progress belongs to
    Column("claims", Integer, nullable=False, default=0, server_default="0"),
    # the one result name the worker holding the lease may upload to (remote workers)
    Column("upload_name", String(64), nullable=True),
    Index("ix_tasks_upload_name", "upload_name", unique=True),
    Index("ix_tasks_runnable", "status", "engine", "created_at", "id"),
    Index("ix_tasks_lease", "status", "lease_expires_at"),
    Index("ix_tasks_key_created", "api_key_id", "created_at"),
    Index("ix_tasks_batch", "batch_id", "batch_index"),
    Index("ix_tasks_finished", "finished_at"),
)

# named sequences that only grow; a row is locked by the transaction that takes a value
sequences = Table(
    "sequences",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

TASK_END = "task_end"

SUBMITTED = "submitted"  # the usage_daily status that counts submissions (not outcomes)

task_inputs = Table(
    "task_inputs",
    metadata,
    Column("task_id", String(48), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("blob_key", String(96), primary_key=True),
    Index("ix_task_inputs_blob", "blob_key"),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("api_key_id", String(32), ForeignKey("api_keys.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("task_id", String(48), nullable=False),
    Column("api_key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Index("ix_webhook_due", "status", "next_attempt_at"),
)

worker_tokens = Table(
    "worker_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

# -- the dashboard ------------------------------------------------------------------------------

sign_in_links = Table(
    "sign_in_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # the cookie is the secret; only its hash
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_sessions_account", "account_id"),
    Index("ix_sessions_expires", "expires_at"),
)

# every limit's counter: a key's tasks per minute and day, failed sign-ins per account and
# per address, verifies per address (store/sql/limits.py)
counters = Table(
    "counters",
    metadata,
    Column("subject", String(300), primary_key=True),  # e.g. "sign-in:addr:203.0.113.9"
    Column("window", String(16), primary_key=True),  # e.g. "m:29531234" or "d:20512"
    Column("count", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_counters_expires", "expires_at"),
)

# images per key, day (UTC) and outcome, counted in the transaction that ends each task: they
# outlive the tasks' deletion and retention, and every replica reads the same numbers
usage_daily = Table(
    "usage_daily",
    metadata,
    Column("api_key_id", String(32), primary_key=True),
    Column("day", Integer, primary_key=True),  # days since 1970-01-01
    Column("status", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
)

# submissions refused by the content policy, and results it withheld, per key, day (UTC) and
# code (prompt_refused, unsafe_input, apparent_minor, unsafe_content): a refused submission
# makes no task, so usage_daily cannot count it
refusals_daily = Table(
    "refusals_daily",
    metadata,
    Column("api_key_id", String(32), primary_key=True),
    Column("day", Integer, primary_key=True),  # days since 1970-01-01
    Column("code", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
)

# what each worker said last: written by its claims and heartbeats, read by the admin view
workers = Table(
    "workers",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("engines", String(255), nullable=False),
    Column("task_id", String(48), nullable=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Index("ix_workers_last_seen", "last_seen"),
)

# roles one process of all those sharing the database plays at a time (the retention sweeper,
# the webhook sender): whoever holds the row, until it expires or is let go
leases = Table(
    "leases",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)
