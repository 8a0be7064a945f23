"""The use cases behind one facade: submit, read, cancel, delete, results. No HTTP, no torch.

Each concern lives in its own module (``submission``, ``admission``, ``retention``); this
class wires them to one store and one blob store and keeps the surface the api calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from twoshot.blobs import Blobs
from twoshot.domain import ApiKey, Batch, Task, task_ids
from twoshot.errors import NotFound, Unauthorized
from twoshot.safety.refusals import counted
from twoshot.service.admission import Admission
from twoshot.service.intake import Intake
from twoshot.service.requests import BatchRequest, CoupleRequest, PersonRequest, Submission
from twoshot.service.retention import Retention
from twoshot.service.submission import PromptCheck, Submissions
from twoshot.store import Ended, Hit, Store


class Service:
    def __init__(
        self,
        store: Store,
        blobs: Blobs,
        intake: Intake,
        *,
        default_engine: str,
        engines: list[str],
        max_attempts: int = 3,
        max_prompt_chars: int = 2000,
        max_batch_items: int = 100,
        max_batch_references: int = 16,
        result_ttl: float = 24 * 3600.0,
        rate_limit_per_minute: int = 0,
        quota_per_day: int = 0,
        max_queued: int = 0,
        clock: Callable[[], float] = time.time,
        prompts: PromptCheck | None = None,
    ):
        self.store = store
        self._clock = clock
        self.blobs = blobs
        self.intake = intake
        self.admission = Admission(
            store,
            rate_limit_per_minute=rate_limit_per_minute,
            quota_per_day=quota_per_day,
            max_queued=max_queued,
            clock=clock,
        )
        self.submissions = Submissions(
            store,
            intake,
            self.admission,
            default_engine=default_engine,
            engines=engines,
            max_attempts=max_attempts,
            max_prompt_chars=max_prompt_chars,
            max_batch_items=max_batch_items,
            max_batch_references=max_batch_references,
            clock=clock,
            prompts=prompts,
        )
        self.retention = Retention(store, blobs, result_ttl=result_ttl, clock=clock)

    @property
    def inline_reads(self) -> bool:
        """Whether a keyed read is cheap enough to run on the event loop (SQLite)."""
        return self.store.inline_reads

    def inline(self) -> AbstractContextManager[None]:
        """Reads inside run on the calling thread's own connection (see ``Store.inline``)."""
        return self.store.inline()

    def inline_connection(self) -> Any:
        """This thread's own connection for inline reads (``Store.inline_connection``)."""
        return self.store.inline_connection()

    @property
    def polls(self) -> Any:
        """task-status's compiled reads (``store.sql.polls.PollReads``) where the store has
        them (a ``SqlStore``), else None: then every poll takes the ordinary route."""
        return getattr(self.store, "polls", None)

    def count(self, hits: list[Hit]) -> Hit | None:
        """Count ``hits`` against their limits in one step (``Store.count``): the refused one."""
        return self.store.count(hits)

    # -- submission ---------------------------------------------------------------------------

    async def submit_couple(
        self, key: ApiKey, req: CoupleRequest, how: Submission = Submission()
    ) -> dict:
        with counted(self.store, key.id, self._clock):  # content-policy refusals, per key
            return await self.submissions.submit_couple(key, req, how)

    async def submit_person(
        self, key: ApiKey, req: PersonRequest, how: Submission = Submission()
    ) -> dict:
        with counted(self.store, key.id, self._clock):  # content-policy refusals, per key
            return await self.submissions.submit_person(key, req, how)

    async def submit_batch(
        self, key: ApiKey, req: BatchRequest, how: Submission = Submission()
    ) -> dict:
        with counted(self.store, key.id, self._clock):  # content-policy refusals, per key
            return await self.submissions.submit_batch(key, req, how)

    # -- reading and user actions -----------------------------------------------------------------

    def authenticate(self, secret: str | None) -> ApiKey:
        if not secret:
            raise Unauthorized("send your API key in the X-Api-Key header")
        key = self.store.authenticate(secret.strip())
        if key is None:
            raise Unauthorized("the X-Api-Key is unknown or revoked")
        return key

    def status(self, ident: str, secret: str | None) -> Task | Batch:
        """task-status: the key check and the read in one query for plain task ids."""
        if not secret or ident.startswith("batch-") or not _possible(ident):
            return self.lookup(ident, self.authenticate(secret))
        key, task = self.store.task_for_secret(ident, secret.strip())
        if key is None:
            raise Unauthorized("the X-Api-Key is unknown or revoked")
        if task is None:
            raise NotFound(f"no task or batch {ident!r} for this API key")
        return task

    def lookup(self, task_or_batch_id: str, key: ApiKey) -> Task | Batch:
        found = self._find(task_or_batch_id, key)
        if found is None:
            raise NotFound(f"no task or batch {task_or_batch_id!r} for this API key")
        return found

    def _find(self, ident: str, key: ApiKey) -> Task | Batch | None:
        if not _possible(ident):
            return None
        if ident.startswith("batch-"):
            return self.store.get_batch(ident, key.id)
        return self.store.get_task(ident, key.id)

    def cancel(self, ident: str, key: ApiKey) -> Task | Batch:
        self.store.cancel_tasks(task_ids(self.lookup(ident, key)), key.id)
        return self.lookup(ident, key)

    def delete(self, ident: str, key: ApiKey) -> int:
        """Delete a task, or a batch with all its tasks, and their result files. Inputs are
        released by ``tasks_ended`` for tasks that were still running, and were released
        when the others ended."""
        gone: list[Task] | None
        if not _possible(ident):
            gone = None
        elif ident.startswith("batch-"):
            gone = self.store.delete_batch(ident, key.id)
        else:
            gone = self.store.delete_tasks([ident], key.id) or None
        if gone is None:
            raise NotFound(f"no task or batch {ident!r} for this API key")
        for task in gone:
            if task.result_key:  # the rows are gone: a bad name is logged, not a 500
                self.retention.delete_result(task.result_key, task.id)
        return len(gone)

    def tasks_ended(self, ended: list[Ended]) -> None:
        """The store's end hook: once per ended task, however it ended, wherever (a local
        worker, a remote worker's finish, a cancel, a delete, a lost worker settled)."""
        self.retention.drop_inputs(sorted({k for t in ended for k in t.input_keys}))

    # -- results and retention ----------------------------------------------------------------

    def result_seconds_left(self, name: str) -> float:
        return self.retention.result_seconds_left(name)

    def result(self, name: str) -> bytes:
        return self.retention.result(name)

    def sweep(
        self, result_ttl: float, input_grace: float, orphan_grace: float = 600.0
    ) -> tuple[int, int]:
        return self.retention.sweep(result_ttl, input_grace, orphan_grace)


def _possible(ident: str) -> bool:
    """Whether ``ident`` could name a task or batch: no id is longer than 64, and none holds
    a NUL (PostgreSQL refuses one in any text parameter: a 500, not the 404 it is)."""
    return len(ident) <= 64 and "\x00" not in ident
