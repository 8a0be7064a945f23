"""API keys (each of an account), worker tokens and each key's webhook signing secret."""

from __future__ import annotations

import base64
import hmac
import secrets
import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, true

from twoshot.domain import ApiKey
from twoshot.store.schema import DEFAULT_ACCOUNT, accounts, api_keys, worker_tokens
from twoshot.store.sql.base import SqlBase, dt, hash_secret, ts

KEY_PREFIX = "ts_"
WORKER_PREFIX = "tsw_"

# on the hot path of every request, built once: building a statement costs more than
# running it on SQLite
# (a key of a disabled account is refused like a revoked one: the join says so at once)
_KEY_BY_HASH = (
    select(api_keys)
    .join(accounts, accounts.c.id == api_keys.c.account_id)
    .where(api_keys.c.key_hash == bindparam("digest"), accounts.c.disabled_at.is_(None))
)


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class KeyStore(SqlBase):
    # -- api keys ---------------------------------------------------------------------------

    def create_key(self, name: str, account_id: str = DEFAULT_ACCOUNT) -> tuple[ApiKey, str]:
        """A new key of the account; (key, secret). Only the secret's hash is kept."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=uuid.uuid4().hex[:16],
            name=name,
            prefix=secret[:10],
            created_at=dt(self._clock()),  # type: ignore[arg-type]
            account_id=account_id,
        )
        with self._write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    name=name,
                    prefix=key.prefix,
                    key_hash=hash_secret(secret),
                    created_at=ts(key.created_at),
                    webhook_secret=new_webhook_secret(),
                    account_id=account_id,
                )
            )
        return key, secret

    def list_keys(self, account_id: str | None = None) -> list[ApiKey]:
        """The keys of one account, or of all (``None``), oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(api_keys).where(_of(account_id)).order_by(api_keys.c.created_at)
            ).all()
        return [self._key(r) for r in rows]

    def get_key(self, key_id: str, account_id: str | None = None) -> ApiKey | None:
        with self._read() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.id == key_id, _of(account_id))
            ).first()
        return None if row is None else self._key(row)

    def revoke_key(self, id_or_prefix: str, account_id: str | None = None) -> ApiKey | None:
        """Revoke by id or shown prefix, within one account when given (another account's
        key is then unknown); revoking twice keeps the first time."""
        with self._write() as conn:
            row = conn.execute(
                select(api_keys).where(
                    or_(api_keys.c.id == id_or_prefix, api_keys.c.prefix == id_or_prefix),
                    _of(account_id),
                )
            ).first()
            if row is None:
                return None
            if row.revoked_at is None:
                conn.execute(
                    api_keys.update()
                    .where(api_keys.c.id == row.id)
                    .values(revoked_at=self._clock())
                )
            row = conn.execute(select(api_keys).where(api_keys.c.id == row.id)).first()
        return self._key(row)

    def authenticate(self, secret: str) -> ApiKey | None:
        digest = hash_secret(secret)
        with self._read() as conn:
            row = conn.execute(_KEY_BY_HASH, {"digest": digest}).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at:
            return None
        return self._key(row)

    def set_key_limits(
        self, key_id: str, rate_limit_per_minute: int | None, quota_per_day: int | None
    ) -> ApiKey | None:
        """An admin's per-key limits (``None``: the server's default; 0: no limit)."""
        with self._write() as conn:
            row = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id)
                .values(rate_limit_per_minute=rate_limit_per_minute, quota_per_day=quota_per_day)
                .returning(*api_keys.c)
            ).first()
        return None if row is None else self._key(row)

    @staticmethod
    def _key(row: Any) -> ApiKey:
        return ApiKey(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            created_at=dt(row.created_at),  # type: ignore[arg-type]
            revoked_at=dt(row.revoked_at),
            account_id=row.account_id,
            rate_limit_per_minute=row.rate_limit_per_minute,
            quota_per_day=row.quota_per_day,
            last_used_at=dt(row.last_used_at),
        )

    # -- worker tokens ------------------------------------------------------------------------

    def create_worker_token(self, name: str) -> tuple[str, str]:
        """(id, secret). The secret is shown once; only its hash is kept."""
        secret = WORKER_PREFIX + secrets.token_urlsafe(32)
        token_id = uuid.uuid4().hex[:16]
        with self._write() as conn:
            conn.execute(
                worker_tokens.insert().values(
                    id=token_id, name=name, token_hash=hash_secret(secret), created_at=self._clock()
                )
            )
        return token_id, secret

    def worker_for(self, secret: str) -> str | None:
        """The id of the live worker token with this secret."""
        digest = hash_secret(secret)
        with self._read() as conn:
            row = conn.execute(
                select(worker_tokens).where(worker_tokens.c.token_hash == digest)
            ).first()
        if (
            row is None
            or row.revoked_at is not None
            or not hmac.compare_digest(row.token_hash, digest)
        ):
            return None
        return str(row.id)

    def revoke_worker_token(self, token_id: str) -> bool:
        with self._write() as conn:
            done = conn.execute(
                worker_tokens.update()
                .where(worker_tokens.c.id == token_id, worker_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
        return done.rowcount == 1

    # -- webhook secrets ------------------------------------------------------------------------

    def webhook_secret(self, api_key_id: str) -> str:
        """The key's signing secret: made with the key (migration 0006 gave older keys one)."""
        with self._read() as conn:
            secret = conn.execute(
                select(api_keys.c.webhook_secret).where(api_keys.c.id == api_key_id)
            ).scalar_one()
        return str(secret)

    def rotate_webhook_secret(self, api_key_id: str) -> str:
        """A new signing secret for the key; deliveries from now on are signed with it."""
        secret = new_webhook_secret()
        with self._write() as conn:
            conn.execute(
                api_keys.update().where(api_keys.c.id == api_key_id).values(webhook_secret=secret)
            )
        return secret


def _of(account_id: str | None) -> ColumnElement[bool]:
    """Keys of this account, or every key (``None``)."""
    return true() if account_id is None else and_(api_keys.c.account_id == account_id)
