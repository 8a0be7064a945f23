"""limits: per-key counters of accepted tasks per time window (rate limits and quotas)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("api_key_id", sa.String(32), primary_key=True),
        sa.Column("window", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_usage_expires", "usage_counters", ["expires_at"])
