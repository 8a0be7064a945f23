"""task ends in order: ``tasks.end_seq`` (the commit order of task ends, the cursor of the
event streams), ``tasks.claims`` (claims ever made, never handed back: which run progress
belongs to), ``tasks.upload_name`` (the one result name a remote worker may upload to) and
the ``sequences`` row that numbers the ends

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("end_seq", sa.BigInteger, nullable=True))
    op.add_column("tasks", sa.Column("claims", sa.Integer, nullable=False, server_default="0"))
    op.add_column("tasks", sa.Column("upload_name", sa.String(64), nullable=True))
    op.create_index("ix_tasks_upload_name", "tasks", ["upload_name"], unique=True)
    sequences = op.create_table(
        "sequences",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(sequences, [{"name": "task_end", "value": 0}])
