"""Admission of new tasks: the queue bound and each key's rate limit and daily quota."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from twoshot.domain import ApiKey
from twoshot.errors import RateLimited
from twoshot.store import Hit, Store


class Admission:
    def __init__(
        self,
        store: Store,
        *,
        rate_limit_per_minute: int,
        quota_per_day: int,
        max_queued: int,
        clock: Callable[[], float],
    ):
        self.store = store
        self._per_minute = rate_limit_per_minute
        self._per_day = quota_per_day
        self._max_queued = max_queued
        self._clock = clock

    @asynccontextmanager
    async def admitted(self, key: ApiKey, n: int) -> AsyncIterator[Admitted]:
        """Count ``n`` tasks against the key's limits and the queue bound, or refuse with 429.
        A submission that fails after this takes its count back, and so does one that
        turns out to be a replay (``Admitted.refund``)."""
        if self._max_queued and self.store.queued_count() + n > self._max_queued:
            raise RateLimited(
                f"the queue is full ({self._max_queued} tasks waiting); try again shortly",
                code="queue_full",
                retry_after=30,
            )
        now = self._clock()
        # an admin's per-key limits (dashboard) win over the server's defaults; 0: none
        per_minute = _first(key.rate_limit_per_minute, self._per_minute)
        per_day = _first(key.quota_per_day, self._per_day)
        hits: list[Hit] = []  # counted and checked by one statement each (Store.count)
        if per_minute:
            minute = int(now // 60)
            hits.append(Hit(f"key:{key.id}", f"m:{minute}", (minute + 2) * 60.0, per_minute, n))
        if per_day:
            day = int(now // 86400)
            hits.append(Hit(f"key:{key.id}", f"d:{day}", (day + 2) * 86400.0, per_day, n))
        over = self.store.count(hits) if hits else None
        if over is not None:
            span, what = (60, "per minute") if over.window.startswith("m:") else (86400, "per day")
            retry = int(span - now % span) + 1
            raise RateLimited(
                f"this key may submit {over.limit} task(s) {what}; this request would go over "
                f"it. Try again in {retry} s",
                code="rate_limited" if span == 60 else "quota_exceeded",
                retry_after=retry,
            )
        admitted = Admitted(self.store, hits)
        try:
            yield admitted
        except BaseException:
            admitted.refund()
            raise


class Admitted:
    """Tasks counted against a key's windows; ``refund`` takes the count back, once."""

    def __init__(self, store: Store, hits: list[Hit]):
        self._store = store
        self._hits = hits

    def refund(self) -> None:
        if self._hits:
            self._store.uncount(self._hits)
            self._hits = []


def _first(value: int | None, default: int) -> int:
    return default if value is None else value
