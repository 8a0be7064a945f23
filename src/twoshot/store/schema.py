"""The tables, as SQLAlchemy Core metadata. Times are UNIX seconds (float) on every backend.

The migrations under ``migrations/versions`` create exactly these; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
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
    Column("webhook_url", Text, nullable=True),
    Column("public_url", String(255), nullable=True),
    Index("ix_tasks_runnable", "status", "engine", "created_at", "id"),
    Index("ix_tasks_lease", "status", "lease_expires_at"),
    Index("ix_tasks_api_key", "api_key_id"),
    Index("ix_tasks_batch", "batch_id", "batch_index"),
    Index("ix_tasks_finished", "finished_at"),
)

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

usage_counters = Table(
    "usage_counters",
    metadata,
    Column("api_key_id", String(32), primary_key=True),
    Column("window", String(16), primary_key=True),  # e.g. "m:29531234" or "d:20512"
    Column("count", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_usage_expires", "expires_at"),
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
