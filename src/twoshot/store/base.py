"""The store's contract: what the service, the workers and the API need from persistence.

One contract test suite (``tests/store``) runs against every implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from twoshot.domain import Account, ApiKey, Batch, Delivery, ErrorInfo, Task, TaskStatus


@dataclass(frozen=True)
class Idempotency:
    api_key_id: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Hit:
    """One count against one limit: ``n`` more in the ``subject``'s counter for ``window``
    (a fixed window's name, e.g. ``m:29531234``), which may be forgotten after
    ``expires_at``. ``limit`` 0 counts without a limit."""

    subject: str
    window: str
    expires_at: float
    limit: int = 0
    n: int = 1


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


@dataclass(frozen=True)
class UsageRow:
    """Tasks of one key that ended on one day (days since the epoch, UTC) with one outcome."""

    day: int
    api_key_id: str
    status: str
    count: int


@dataclass(frozen=True)
class WorkerSeen:
    owner: str
    engines: tuple[str, ...]
    task_id: str | None
    first_seen: datetime
    last_seen: datetime


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

    # api keys (of an account: the default one unless said; a disabled account's keys are
    # refused like revoked ones)
    def create_key(self, name: str, account_id: str = ...) -> tuple[ApiKey, str]: ...
    def list_keys(self, account_id: str | None = None) -> list[ApiKey]: ...
    def get_key(self, key_id: str, account_id: str | None = None) -> ApiKey | None: ...
    def revoke_key(self, id_or_prefix: str, account_id: str | None = None) -> ApiKey | None: ...
    def authenticate(self, secret: str) -> ApiKey | None: ...
    def set_key_limits(
        self, key_id: str, rate_limit_per_minute: int | None, quota_per_day: int | None
    ) -> ApiKey | None: ...

    # accounts, one-time sign-in links, dashboard sessions
    def create_account(self, email: str, name: str = "", *, is_admin: bool = False) -> Account: ...
    def get_account(self, id_or_email: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...
    def password_hash(self, email: str) -> tuple[Account, str] | None: ...
    def set_password(self, account_id: str, password_hash: str) -> None: ...
    def set_disabled(self, account_id: str, disabled: bool) -> Account | None: ...
    def create_sign_in_link(self, account_id: str, ttl: float) -> str: ...
    def sign_in_link(self, token: str) -> Account | None: ...
    def use_sign_in_link(self, token: str, password_hash: str) -> Account | None: ...
    def create_session(self, account_id: str, ttl: float) -> tuple[str, str]: ...
    def session(self, token: str) -> tuple[Account, str] | None: ...
    def end_session(self, token: str) -> None: ...

    # what the dashboard reads, scoped by account (None: all)
    def usage(
        self, account_id: str | None, first_day: int, key_id: str | None = None
    ) -> list[UsageRow]: ...
    def submitted_since(self, account_id: str | None, since: float) -> dict[str, int]: ...
    def count_refusal(self, api_key_id: str, code: str, day: int) -> None: ...
    def refusals(
        self, account_id: str | None, first_day: int, key_id: str | None = None
    ) -> list[UsageRow]: ...
    def durations(
        self, account_id: str | None, since: float, key_id: str | None = None, limit: int = 5000
    ) -> list[tuple[float, float]]: ...
    def account_tasks(
        self,
        account_id: str | None,
        *,
        key_id: str | None = None,
        status: str | None = None,
        before: float | None = None,
        limit: int = 50,
    ) -> list[Task]: ...
    def account_task(self, account_id: str | None, task_id: str) -> Task | None: ...
    def list_workers(self, seen_since: float) -> list[WorkerSeen]: ...

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
    def queue_depth(self) -> dict[str, int]: ...  # engine → queued + running

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

    # limits: every rate limit, quota and throttle is a counter
    def count(self, hits: Sequence[Hit]) -> Hit | None: ...
    def uncount(self, hits: Sequence[Hit]) -> None: ...
    def counted(self, subject: str, window: str) -> int: ...
    def clear_count(self, subject: str) -> None: ...
    def queued_count(self) -> int: ...

    # webhooks
    def claim_deliveries(self, limit: int, lease_seconds: float) -> list[Delivery]: ...
    def delivery_done(
        self, delivery_id: str, *, error: str | None, retry_at: float | None
    ) -> None: ...
    def deliveries(self, task_id: str) -> list[dict[str, Any]]: ...
    def webhook_secret(self, api_key_id: str) -> str: ...
    def rotate_webhook_secret(self, api_key_id: str) -> str: ...

    # roles one process plays at a time among all on the database (``twoshot.election``)
    def take_lease(self, name: str, owner: str, seconds: float) -> bool: ...
    def release_lease(self, name: str, owner: str) -> None: ...
    def lease_owner(self, name: str) -> str | None: ...

    def close(self) -> None: ...
