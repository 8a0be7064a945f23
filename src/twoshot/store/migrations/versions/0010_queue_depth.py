"""queue_depth view: queued and running tasks per engine, the number autoscalers read

KEDA's postgresql trigger (deploy/helm/twoshot) and the ``twoshot_queue_depth`` gauge both
read this view, so a change to how the tasks table encodes the queue changes them together.
A running task counts as well as a queued one, so that a busy worker is not scaled away;
a ``processing`` row whose lease expired (its worker died) is runnable, so it counts too.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Plain SQL that SQLite and PostgreSQL both take; the (status, engine, …) claim index answers it.
VIEW = """
CREATE VIEW queue_depth AS
SELECT engine,
       SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END) AS queued,
       SUM(CASE WHEN status = 'processing' THEN 1 ELSE 0 END) AS running,
       COUNT(*) AS depth
FROM tasks
WHERE status IN ('queued', 'processing')
GROUP BY engine
"""


def upgrade() -> None:
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW queue_depth")
