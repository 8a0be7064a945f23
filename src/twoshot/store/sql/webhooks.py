"""Webhook deliveries: claimed in batches under a short lease, then marked done, retried or
failed. The rows are written by ``SqlBase._end``, in the transaction that ends the task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from twoshot.domain import Delivery
from twoshot.store.schema import webhook_deliveries
from twoshot.store.sql.base import SqlBase


class WebhookStore(SqlBase):
    def claim_deliveries(self, limit: int, lease_seconds: float) -> list[Delivery]:
        now = self._clock()
        d = webhook_deliveries.c
        with self._write() as conn:
            rows = conn.execute(
                select(webhook_deliveries)
                .where(d.status == "pending", d.next_attempt_at <= now)
                .order_by(d.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                conn.execute(
                    webhook_deliveries.update()
                    .where(d.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=now + lease_seconds)
                )
        return [Delivery(r.id, r.task_id, r.api_key_id, r.url, r.attempts) for r in rows]

    def delivery_done(self, delivery_id: str, *, error: str | None, retry_at: float | None) -> None:
        """Delivered (no error), to be tried again at ``retry_at``, or failed for good."""
        now = self._clock()
        values: dict[str, Any] = {
            "attempts": webhook_deliveries.c.attempts + 1,
            "last_error": error,
        }
        if error is None:
            values.update(status="delivered", delivered_at=now)
        elif retry_at is not None:
            values.update(status="pending", next_attempt_at=retry_at)
        else:
            values.update(status="failed")
        with self._write() as conn:
            conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(**values)
            )

    def deliveries(self, task_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(webhook_deliveries)
                .where(webhook_deliveries.c.task_id == task_id)
                .order_by(webhook_deliveries.c.created_at)
            ).all()
        return [
            {"status": r.status, "attempts": r.attempts, "last_error": r.last_error, "url": r.url}
            for r in rows
        ]
