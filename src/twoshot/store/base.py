"""The store's contract: what the service, the workers and the API need from persistence.

One contract test suite (``tests/store``) runs against every implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from twoshot.domain import ApiKey, Batch, Delivery, ErrorInfo, Task, TaskStatus


@dataclass(frozen=True)
class Idempotency:
    api_key_id: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Heartbeat:
    """The answer to a heartbeat: whether the lease is still ours, and whether to stop."""

    ours: bool
    cancel_requested: bool


@dataclass(frozen=True)
class Ended:
    """A task that has just reached a terminal state, with the input blobs it referenced."""

    id: str
    input_keys: tuple[str, ...]


@dataclass(frozen=True)
class Expired:
    task_id: str
    result_key: str


class Queue(Protocol):
    """The lease queue: what a worker needs, whether from the database or over HTTP."""

    def claim(self, owner: str, engines: Sequence[str], lease_seconds: float) -> Task | None: ...
    def heartbeat(
        self, task_id: str, owner: str, progress: float | None, lease_seconds: float
    ) -> Heartbeat: ...
    def finish(
        self,
        task_id: str,
        owner: str,
        status: TaskStatus,
        *,
        result_key: str | None = None,
        quality: dict | None = None,
        error: ErrorInfo | None = None,
    ) -> bool: ...
    def release(self, task_id: str, owner: str) -> bool: ...


class Store(Queue, Protocol):
    inline_reads: bool  # whether a keyed read is cheap enough to run on the event loop

    # api keys
    def create_key(self, name: str) -> tuple[ApiKey, str]: ...
    def list_keys(self) -> list[ApiKey]: ...
    def revoke_key(self, id_or_prefix: str) -> ApiKey | None: ...
    def authenticate(self, secret: str) -> ApiKey | None: ...

    # worker tokens
    def create_worker_token(self, name: str) -> tuple[str, str]: ...
    def worker_for(self, secret: str) -> str | None: ...
    def revoke_worker_token(self, token_id: str) -> bool: ...

    # submission: tasks (and their batch) in one transaction; an Idempotency-Key hit
    # returns the stored answer instead and inserts nothing
    def submit(
        self,
        tasks: Sequence[Task],
        batch: Batch | None,
        response: str,
        idempotency: Idempotency | None = None,
    ) -> str | None: ...
    def idempotent_response(self, idempotency: Idempotency) -> str | None: ...

    # reading
    def get_task(self, task_id: str, api_key_id: str | None = None) -> Task | None: ...
    def get_batch(self, batch_id: str, api_key_id: str | None = None) -> Batch | None: ...
    def task_for_secret(self, task_id: str, secret: str) -> tuple[ApiKey | None, Task | None]: ...
    def task_by_result(self, result_key: str) -> Task | None: ...
    def count_by_status(self) -> dict[str, int]: ...

    # user actions; deleting a batch deletes its row too
    def cancel(self, task_id: str, api_key_id: str) -> Task | None: ...
    def delete_tasks(self, task_ids: Sequence[str], api_key_id: str) -> list[Task]: ...
    def delete_batch(self, batch_id: str, api_key_id: str) -> list[Task] | None: ...

    # every terminal transition (finish, cancel, delete, a lost worker) calls the hooks once
    # per ended task, after its commit
    def on_ended(self, hook: Callable[[list[Ended]], None]) -> None: ...

    # retention
    def unreferenced(self, blob_keys: Sequence[str]) -> list[str]: ...
    def live_input_keys(self) -> set[str]: ...
    def expired_results(self, older_than: float, limit: int = 500) -> list[Expired]: ...
    def referenced_results(self, names: Sequence[str]) -> set[str]: ...
    def forget_result(self, task_id: str) -> None: ...

    # limits
    def count_usage(
        self, api_key_id: str, windows: Sequence[tuple[str, float]], n: int
    ) -> list[int]: ...
    def uncount_usage(self, api_key_id: str, windows: Sequence[str], n: int) -> None: ...
    def queued_count(self) -> int: ...

    # webhooks
    def claim_deliveries(self, limit: int, lease_seconds: float) -> list[Delivery]: ...
    def delivery_done(
        self, delivery_id: str, *, error: str | None, retry_at: float | None
    ) -> None: ...
    def deliveries(self, task_id: str) -> list[dict[str, Any]]: ...
    def webhook_secret(self, api_key_id: str) -> str: ...

    def close(self) -> None: ...
