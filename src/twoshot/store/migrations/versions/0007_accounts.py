"""accounts and the dashboard: accounts own keys (older keys go to the default account),
per-key limits, sign-in links, sessions, throttles, daily usage, the workers' last word

Revision ID: 0007
Revises: 0006
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("disabled_at", sa.Float, nullable=True),
    )
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.String),
        sa.column("email", sa.String),
        sa.column("name", sa.String),
        sa.column("is_admin", sa.Boolean),
        sa.column("created_at", sa.Float),
    )
    op.bulk_insert(
        accounts,
        [
            {
                "id": "default",
                "email": "default@twoshot.invalid",
                "name": "Default (keys made without --account)",
                "is_admin": False,
                "created_at": time.time(),
            }
        ],
    )
    # SQLite cannot add a NOT NULL column with a reference to a filled table: nullable, and
    # every row filled here and by the store. Its ALTER TABLE takes a REFERENCES clause,
    # which alembic's add_column does not emit for it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE api_keys ADD COLUMN account_id VARCHAR(32) REFERENCES accounts(id)")
    else:
        op.add_column(
            "api_keys",
            sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=True),
        )
    op.add_column("api_keys", sa.Column("rate_limit_per_minute", sa.Integer, nullable=True))
    op.add_column("api_keys", sa.Column("quota_per_day", sa.Integer, nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.Float, nullable=True))
    op.execute("UPDATE api_keys SET account_id = 'default' WHERE account_id IS NULL")
    op.create_index("ix_api_keys_account", "api_keys", ["account_id"])

    op.add_column("tasks", sa.Column("started_at", sa.Float, nullable=True))
    op.create_index("ix_tasks_key_created", "tasks", ["api_key_id", "created_at"])
    op.drop_index("ix_tasks_api_key", "tasks")  # the new index starts with the same column

    op.create_table(
        "sign_in_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_sessions_account", "sessions", ["account_id"])
    op.create_index("ix_sessions_expires", "sessions", ["expires_at"])
    op.create_table(
        "throttles",
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("window", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_throttles_expires", "throttles", ["expires_at"])
    op.create_table(
        "usage_daily",
        sa.Column("api_key_id", sa.String(32), primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    # the tasks that already ended count too
    op.execute(
        "INSERT INTO usage_daily (api_key_id, day, status, count) "
        "SELECT api_key_id, CAST(finished_at / 86400 AS INTEGER) - "
        "CASE WHEN CAST(finished_at / 86400 AS INTEGER) > finished_at / 86400 THEN 1 ELSE 0 END, "
        "status, COUNT(*) FROM tasks WHERE finished_at IS NOT NULL "
        "AND status IN ('completed', 'failed', 'canceled') GROUP BY 1, 2, 3"
    )
    op.create_table(
        "workers",
        sa.Column("owner", sa.String(200), primary_key=True),
        sa.Column("engines", sa.String(255), nullable=False),
        sa.Column("task_id", sa.String(48), nullable=True),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
    )
    op.create_index("ix_workers_last_seen", "workers", ["last_seen"])
