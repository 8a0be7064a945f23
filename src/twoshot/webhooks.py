"""Webhooks: each terminal state of a task with a ``webhook_url`` is POSTed there, with the
task-status body, signed the Standard Webhooks way (https://www.standardwebhooks.com):

    webhook-id:        the delivery id (the same on every retry)
    webhook-timestamp: UNIX seconds of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" with the key's secret>

Deliveries are rows of the store, written in the transaction that ends the task, so none is
lost when a process dies. A non-2xx answer, a timeout or a refused address is tried again
with exponential backoff; after ``max_attempts`` the delivery is marked failed. URLs obey the
same rules as image fetching: public addresses only, unless private ones are allowed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable

from twoshot.domain import Delivery
from twoshot.election import Lease
from twoshot.errors import TwoshotError
from twoshot.fetch import Fetcher
from twoshot.metrics import Metrics
from twoshot.status import task_body
from twoshot.store import Store

log = logging.getLogger(__name__)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class WebhookSender:
    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        *,
        default_base_url: str,
        backoff: float = 5.0,
        max_attempts: int = 8,
        poll_interval: float = 0.5,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        lease: Lease | None = None,
    ):
        self._store = store
        self._fetcher = fetcher
        self._base = default_base_url.rstrip("/")
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._poll = poll_interval
        self._clock = clock
        self._metrics = metrics
        self._lease = lease  # sends only while it holds this (one sender per database)

    def retry_delay(self, attempts_made: int) -> float:
        """5 s, 20 s, 80 s, … (×4 each time), capped at 6 h, with the default ``backoff``."""
        return float(min(self._backoff * 4 ** (attempts_made - 1), 6 * 3600))

    async def deliver_due(self) -> int:
        due = await asyncio.to_thread(self._store.claim_deliveries, 20, 60.0)
        await asyncio.gather(*(self._deliver(d) for d in due))
        return len(due)

    async def _deliver(self, delivery: Delivery) -> None:
        error: str | None = None
        try:
            task = await asyncio.to_thread(self._store.get_task, delivery.task_id)
            if task is None:
                await asyncio.to_thread(
                    self._store.delivery_done, delivery.id, error="task deleted", retry_at=None
                )
                return
            body = json.dumps(task_body(task, task.public_url or self._base)).encode()
            secret = await asyncio.to_thread(self._store.webhook_secret, delivery.api_key_id)
            stamp = int(self._clock())
            headers = {
                "Content-Type": "application/json",
                "webhook-id": delivery.id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(secret, delivery.id, stamp, body),
            }
            status = await self._fetcher.post(delivery.url, body, headers, "webhook_url")
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except TwoshotError as exc:
            error = exc.message
        except Exception as exc:
            error = type(exc).__name__
        attempts = delivery.attempts + 1
        retry_at = None
        if error is not None and attempts < self._max_attempts:
            retry_at = self._clock() + self.retry_delay(attempts)
        await asyncio.to_thread(
            self._store.delivery_done, delivery.id, error=error, retry_at=retry_at
        )
        if self._metrics is not None:
            outcome = "delivered" if error is None else ("retry" if retry_at else "failed")
            self._metrics.webhooks.labels(outcome).inc()
        if error is None:
            log.info("webhook for task %s delivered", delivery.task_id)
        else:
            log.warning(
                "webhook for task %s failed (%s), attempt %d%s",
                delivery.task_id,
                error,
                attempts,
                "" if retry_at else "; giving up",
            )

    async def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self._lease is not None and not self._lease.held():
                await asyncio.sleep(self._poll)
                continue
            try:
                sent = await self.deliver_due()
            except Exception:
                log.exception("webhook delivery loop failed; retrying")
                sent = 0
            if not sent:
                await asyncio.sleep(self._poll)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run the loop in a thread with its own event loop."""

        def main() -> None:
            async def go() -> None:
                try:
                    await self.run(stop)
                finally:
                    await self._fetcher.aclose()
                    if self._lease is not None:
                        self._lease.release()

            asyncio.run(go())

        thread = threading.Thread(target=main, name="webhooks", daemon=True)
        thread.start()
        return thread
