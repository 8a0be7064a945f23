"""Results while they are kept, and the sweep that deletes what is no longer needed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from twoshot.blobs import Blobs, is_result_name
from twoshot.errors import NotFound
from twoshot.store import Store

log = logging.getLogger(__name__)


class Retention:
    def __init__(
        self, store: Store, blobs: Blobs, *, result_ttl: float, clock: Callable[[], float]
    ):
        self.store = store
        self.blobs = blobs
        self.result_ttl = result_ttl
        self._clock = clock

    def delete_result(self, name: str, task_id: str) -> bool:
        """Delete a result file; False (and a log line) when its name is not one a blob
        store could hold, which only an old or broken row carries."""
        try:
            self.blobs.delete_result(name)
        except ValueError:
            log.warning(
                "retention: task %s has a result name no store can hold; set aside", task_id
            )
            return False
        return True

    def drop_inputs(self, keys: list[str]) -> None:
        """Delete the input blobs among ``keys`` that no live task references any more."""
        for k in self.store.unreferenced(keys):
            self.blobs.delete_input(k)

    def result_seconds_left(self, name: str) -> float:
        """How long the result is kept still; NotFound if it is gone or never was."""
        task = self.store.task_by_result(name) if is_result_name(name) else None
        if task is None or task.finished_at is None:
            raise NotFound("no such result: it never existed, was deleted, or has expired")
        left = task.finished_at.timestamp() + self.result_ttl - self._clock()
        if left <= 0:
            raise NotFound("no such result: it never existed, was deleted, or has expired")
        return left

    def result(self, name: str) -> bytes:
        # a name the server never issues is no result (and not a query: a NUL 500s PostgreSQL)
        task = self.store.task_by_result(name) if is_result_name(name) else None
        fresh = (
            task is not None
            and task.finished_at is not None
            and task.finished_at.timestamp() + self.result_ttl > self._clock()
        )
        data = self.blobs.get_result(name) if fresh else None
        if data is None:
            raise NotFound("no such result: it never existed, was deleted, or has expired")
        return data

    def sweep(
        self, result_ttl: float, input_grace: float, orphan_grace: float = 600.0
    ) -> tuple[int, int]:
        """Delete expired results, orphaned inputs, and result files no task points to (a
        worker whose finish failed after its upload leaves one). Returns (results, inputs)
        deleted. Files younger than their grace period are left: they may be in flight."""
        expired = self.store.expired_results(self._clock() - result_ttl)
        deleted = 0
        for e in expired:
            if self.delete_result(e.result_key, e.task_id):
                deleted += 1
            # a name no blob store can hold is set aside (forgotten, logged): the sweep goes
            # on past it now and never meets it again
            self.store.forget_result(e.task_id)
        candidates = [n for n, age in self.blobs.result_ages() if age > orphan_grace]
        referenced = self.store.referenced_results(candidates)
        orphaned_results = [n for n in candidates if n not in referenced]
        for name in orphaned_results:
            self.blobs.delete_result(name)
        if orphaned_results:
            log.info("retention: %d result file(s) no task points to", len(orphaned_results))
        live = self.store.live_input_keys()
        orphans = [k for k, age in self.blobs.input_ages() if k not in live and age > input_grace]
        for k in orphans:
            self.blobs.delete_input(k)
        return deleted + len(orphaned_results), len(orphans)
