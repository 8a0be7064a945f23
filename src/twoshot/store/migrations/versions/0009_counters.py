"""one counter for every limit: ``counters`` replaces ``usage_counters`` (the keys' rate
limits and quotas) and ``throttles`` (sign-in failures); the verify limit counts there too

Counts in flight are dropped: the longest window is a day, and a limit starts afresh.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _counter_table(name: str, first: str, length: int) -> None:
    op.create_table(
        name,
        sa.Column(first, sa.String(length), primary_key=True),
        sa.Column("window", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def upgrade() -> None:
    _counter_table("counters", "subject", 300)
    op.create_index("ix_counters_expires", "counters", ["expires_at"])
    op.drop_index("ix_throttles_expires", "throttles")
    op.drop_table("throttles")
    op.drop_index("ix_usage_expires", "usage_counters")
    op.drop_table("usage_counters")


def downgrade() -> None:
    _counter_table("usage_counters", "api_key_id", 32)
    op.create_index("ix_usage_expires", "usage_counters", ["expires_at"])
    _counter_table("throttles", "subject", 300)
    op.create_index("ix_throttles_expires", "throttles", ["expires_at"])
    op.drop_index("ix_counters_expires", "counters")
    op.drop_table("counters")
