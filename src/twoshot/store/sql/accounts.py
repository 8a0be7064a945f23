"""Accounts, their one-time sign-in links and their dashboard sessions.

Secrets (links, session cookies) are random tokens of which only a SHA-256 is stored, like
API keys; passwords arrive here already hashed (argon2, in ``twoshot.accounts``).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import Connection, delete, func, select

from twoshot.domain import Account
from twoshot.errors import Conflict
from twoshot.store.schema import accounts, sessions, sign_in_links
from twoshot.store.sql.base import SqlBase, dt, hash_secret, upsert


def normal_email(email: str) -> str:
    return email.strip().lower()


class AccountStore(SqlBase):
    # -- accounts ---------------------------------------------------------------------------

    def create_account(self, email: str, name: str = "", *, is_admin: bool = False) -> Account:
        email = normal_email(email)
        with self._write() as conn:
            # one statement: of two creations racing with one email, one gets the row and
            # the other no row (not a unique-index error, which would be a 500)
            row = conn.execute(
                upsert(conn, accounts)
                .values(
                    id=uuid.uuid4().hex[:16],
                    email=email,
                    name=name,
                    is_admin=is_admin,
                    created_at=self._clock(),
                )
                .on_conflict_do_nothing(index_elements=["email"])
                .returning(*accounts.c)
            ).first()
        if row is None:
            raise Conflict(f"an account with the email {email} exists", code="account_exists")
        return self._account(row)

    def get_account(self, id_or_email: str) -> Account | None:
        with self._read() as conn:
            row = conn.execute(
                select(accounts).where(
                    (accounts.c.id == id_or_email) | (accounts.c.email == normal_email(id_or_email))
                )
            ).first()
        return None if row is None else self._account(row)

    def list_accounts(self) -> list[Account]:
        with self._read() as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.created_at)).all()
        return [self._account(r) for r in rows]

    def password_hash(self, email: str) -> tuple[Account, str] | None:
        """For sign-in: the enabled account with this email and its password hash."""
        with self._read() as conn:
            row = conn.execute(
                select(accounts).where(
                    accounts.c.email == normal_email(email),
                    accounts.c.disabled_at.is_(None),
                    accounts.c.password_hash.is_not(None),
                )
            ).first()
        return None if row is None else (self._account(row), str(row.password_hash))

    def set_password(self, account_id: str, password_hash: str) -> None:
        """A new hash (argon2's rehash of an older one); sessions are kept."""
        with self._write() as conn:
            conn.execute(
                accounts.update()
                .where(accounts.c.id == account_id)
                .values(password_hash=password_hash)
            )

    def set_disabled(self, account_id: str, disabled: bool) -> Account | None:
        """Disable (its keys are refused and its sessions end, at once) or enable again."""
        with self._write() as conn:
            row = conn.execute(
                accounts.update()
                .where(accounts.c.id == account_id)
                .values(disabled_at=self._clock() if disabled else None)
                .returning(*accounts.c)
            ).first()
            if row is not None and disabled:
                conn.execute(delete(sessions).where(sessions.c.account_id == account_id))
        return None if row is None else self._account(row)

    @staticmethod
    def _account(row: Any) -> Account:
        return Account(
            id=row.id,
            email=row.email,
            name=row.name,
            is_admin=bool(row.is_admin),
            created_at=dt(row.created_at),  # type: ignore[arg-type]
            disabled_at=dt(row.disabled_at),
            has_password=row.password_hash is not None,
        )

    # -- one-time sign-in links -------------------------------------------------------------

    def create_sign_in_link(self, account_id: str, ttl: float) -> str:
        """A token for setting the account's password, usable once before ``ttl`` seconds.
        Every other outstanding link of the account is spent: only the newest one works."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._write() as conn:
            _lock_account(conn, account_id)
            _spend_links(conn, account_id, now)
            conn.execute(
                sign_in_links.insert().values(
                    token_hash=hash_secret(token),
                    account_id=account_id,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
            conn.execute(delete(sign_in_links).where(sign_in_links.c.expires_at < now - 86400))
        return token

    def sign_in_link(self, token: str) -> Account | None:
        """The enabled account of a live (unused, unexpired) link; reading does not use it."""
        with self._read() as conn:
            row = conn.execute(
                select(accounts)
                .join(sign_in_links, sign_in_links.c.account_id == accounts.c.id)
                .where(
                    sign_in_links.c.token_hash == hash_secret(token),
                    sign_in_links.c.used_at.is_(None),
                    sign_in_links.c.expires_at > self._clock(),
                    accounts.c.disabled_at.is_(None),
                )
            ).first()
        return None if row is None else self._account(row)

    def use_sign_in_link(self, token: str, password_hash: str) -> Account | None:
        """Spend the link and set the password, in one transaction; the account's sessions
        end (a reset locks out whoever knew the old password) and so do its other links.
        ``None``: expired, used, or never issued: the UPDATE's own answer says, so two uses
        at once cannot both win."""
        now = self._clock()
        digest = hash_secret(token)
        with self._write() as conn:
            owner = conn.execute(
                select(sign_in_links.c.account_id).where(sign_in_links.c.token_hash == digest)
            ).scalar()
            if owner is None:
                return None
            # the account's row first, as a new link does: the two cannot deadlock
            _lock_account(conn, owner)
            spent = conn.execute(
                sign_in_links.update()
                .where(
                    sign_in_links.c.token_hash == digest,
                    sign_in_links.c.used_at.is_(None),
                    sign_in_links.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(sign_in_links.c.account_id)
            ).first()
            if spent is None:
                return None
            _spend_links(conn, owner, now)
            row = conn.execute(
                accounts.update()
                .where(accounts.c.id == owner, accounts.c.disabled_at.is_(None))
                .values(password_hash=password_hash)
                .returning(*accounts.c)
            ).first()
            if row is None:  # disabled meanwhile: the link stays spent
                return None
            conn.execute(delete(sessions).where(sessions.c.account_id == row.id))
        return self._account(row)

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, account_id: str, ttl: float) -> tuple[str, str]:
        """(cookie secret, CSRF token) of a new session."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        with self._write() as conn:
            conn.execute(
                sessions.insert().values(
                    id_hash=hash_secret(token),
                    account_id=account_id,
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
            conn.execute(delete(sessions).where(sessions.c.expires_at < now))
        return token, csrf

    def session(self, token: str) -> tuple[Account, str] | None:
        """The enabled account of a live session, and the session's CSRF token."""
        with self._read() as conn:
            row = conn.execute(
                select(accounts, sessions.c.csrf)
                .join(sessions, sessions.c.account_id == accounts.c.id)
                .where(
                    sessions.c.id_hash == hash_secret(token),
                    sessions.c.expires_at > self._clock(),
                    accounts.c.disabled_at.is_(None),
                )
            ).first()
        return None if row is None else (self._account(row), str(row.csrf))

    def end_session(self, token: str) -> None:
        with self._write() as conn:
            conn.execute(delete(sessions).where(sessions.c.id_hash == hash_secret(token)))

    def session_count(self, account_id: str) -> int:
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(sessions)
                    .where(
                        sessions.c.account_id == account_id,
                        sessions.c.expires_at > self._clock(),
                    )
                ).scalar_one()
            )


def _lock_account(conn: Connection, account_id: str) -> None:
    """Hold the account's row (PostgreSQL; SQLite's writers are serialised already), so
    links issued and used at once for one account take turns."""
    conn.execute(select(accounts.c.id).where(accounts.c.id == account_id).with_for_update())


def _spend_links(conn: Connection, account_id: str, now: float) -> None:
    conn.execute(
        sign_in_links.update()
        .where(sign_in_links.c.account_id == account_id, sign_in_links.c.used_at.is_(None))
        .values(used_at=now)
    )
