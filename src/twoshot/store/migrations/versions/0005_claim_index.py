"""claim index: (status, engine, created_at, id), so the oldest runnable task is an index
lookup even when a batch's tasks share one created_at

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tasks_runnable", table_name="tasks")
    op.create_index("ix_tasks_runnable", "tasks", ["status", "engine", "created_at", "id"])
