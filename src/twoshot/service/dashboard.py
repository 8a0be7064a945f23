"""What the dashboard reads and changes for a signed-in account (and for admins): its keys
and their webhook secrets, its tasks, per-key limits, the queue and the workers. Every call
is scoped to the account; another account's key or task is NotFound, never disclosed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twoshot.domain import Account, ApiKey, Task
from twoshot.errors import NotFound
from twoshot.store import Store, WorkerSeen


class Dashboard:
    def __init__(self, store: Store, clock: Callable[[], float]):
        self.store = store
        self._clock = clock

    # -- keys ---------------------------------------------------------------------------------

    def keys(self, account_id: str | None) -> tuple[list[ApiKey], dict[str, int]]:
        """The account's keys (every key for ``None``) and how many tasks each sent today."""
        now = self._clock()
        today = self.store.submitted_since(account_id, now - now % 86400)
        return self.store.list_keys(account_id), today

    def own_key(self, account_id: str, key_id: str) -> ApiKey:
        key = self.store.get_key(key_id, account_id)
        if key is None:
            raise NotFound(f"no key {key_id!r} in this account")
        return key

    def create_key(self, account_id: str, name: str) -> tuple[ApiKey, str]:
        return self.store.create_key(name.strip() or "key", account_id)

    def revoke_key(self, account_id: str, key_id: str) -> ApiKey:
        self.own_key(account_id, key_id)
        key = self.store.revoke_key(key_id, account_id)
        assert key is not None
        return key

    def webhook_secret(self, key_id: str, *, rotate: bool = False) -> str:
        """The secret that signs the key's webhooks (the caller owns the key)."""
        if rotate:
            return self.store.rotate_webhook_secret(key_id)
        return self.store.webhook_secret(key_id)

    def set_key_limits(
        self, key_id: str, rate_limit_per_minute: int | None, quota_per_day: int | None
    ) -> ApiKey:
        key = self.store.set_key_limits(key_id, rate_limit_per_minute, quota_per_day)
        if key is None:
            raise NotFound(f"no key {key_id!r}")
        return key

    # -- tasks ----------------------------------------------------------------------------------

    def tasks(self, account_id: str, **page: Any) -> list[Task]:
        """The account's latest tasks, newest first (see ``Store.account_tasks``)."""
        return self.store.account_tasks(account_id, **page)

    def task(self, account_id: str, task_id: str) -> Task:
        task = self.store.account_task(account_id, task_id) if len(task_id) <= 64 else None
        if task is None:
            raise NotFound(f"no task {task_id!r} in this account")
        return task

    # -- admin ----------------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        return self.store.list_accounts()

    def queue(self) -> dict[str, int]:
        """Tasks by status: also the readiness probe's one query."""
        return self.store.count_by_status()

    def workers(self, seen_within: float = 600.0) -> list[WorkerSeen]:
        return self.store.list_workers(self._clock() - seen_within)
