"""Leases on roles: which one process, among all that share the database, plays a role now."""

from __future__ import annotations

from sqlalchemy import delete, or_

from twoshot.store.schema import leases
from twoshot.store.sql.base import SqlBase, upsert


class LeaseStore(SqlBase):
    def take_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds``: True when ``owner`` holds it now.

        One statement: the row is inserted, or updated only where it is this owner's or has
        expired, and ``RETURNING`` says whether this statement got it, so two processes
        asking at once cannot both succeed."""
        now = self._clock()
        with self._write() as conn:
            statement = (
                upsert(conn, leases)
                .values(name=name, owner=owner, expires_at=now + seconds)
                .on_conflict_do_update(
                    index_elements=["name"],
                    set_={"owner": owner, "expires_at": now + seconds},
                    where=or_(leases.c.owner == owner, leases.c.expires_at < now),
                )
                .returning(leases.c.owner)
            )
            row = conn.execute(statement).first()
        return row is not None and row.owner == owner

    def release_lease(self, name: str, owner: str) -> None:
        """Let the lease go (if still ``owner``'s), so another process takes it at once."""
        with self._write() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == owner))

    def lease_owner(self, name: str) -> str | None:
        """Who holds ``name`` now, if anyone (for operators and tests)."""
        now = self._clock()
        with self._read() as conn:
            row = conn.execute(
                leases.select().where(leases.c.name == name, leases.c.expires_at >= now)
            ).first()
        return None if row is None else str(row.owner)
