"""every key has a webhook secret: keys made before webhooks get one now, so reading the
secret never writes

Revision ID: 0006
Revises: 0005
"""

import base64
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("webhook_secret", sa.Text))
    missing = conn.execute(sa.select(keys.c.id).where(keys.c.webhook_secret.is_(None))).all()
    for (key_id,) in missing:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        conn.execute(keys.update().where(keys.c.id == key_id).values(webhook_secret=secret))
