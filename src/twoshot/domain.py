"""Plain data of the domain: tasks, batches, their statuses and what a job asks for. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

Kind = Literal["couple", "person"]
Layout = Literal["male_left", "female_left"]

DEFAULT_SIZE = 1024
MIN_SIZE = 512
MAX_SIZE = 2048
SIZE_STEP = 64


class TaskStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    def is_terminal(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELED)


TERMINAL = tuple(s.value for s in TaskStatus if s.is_terminal())


class JobSpec(BaseModel):
    """What one task asks an engine for. References are blob keys of stored, normalised images."""

    kind: Kind
    prompt: str = ""
    seed: int = 0
    width: int = DEFAULT_SIZE
    height: int = DEFAULT_SIZE
    # couple
    male: str | None = None
    female: str | None = None
    pose: str | None = None
    # who stands left; None: decided from the pose image (vision.who), else the man left
    layout: Layout | None = None
    # person
    references: list[str] = Field(default_factory=list)
    control: str | None = None

    def input_keys(self) -> list[str]:
        keys = [self.male, self.female, self.pose, *self.references, self.control]
        return sorted({k for k in keys if k})


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    message: str


@dataclass
class Task:
    id: str
    api_key_id: str
    kind: Kind
    status: TaskStatus
    engine: str
    spec: JobSpec
    created_at: datetime
    updated_at: datetime
    batch_id: str | None = None
    batch_index: int | None = None
    progress: float = 0.0
    error: ErrorInfo | None = None
    result_key: str | None = None
    quality: dict[str, Any] | None = None
    attempts: int = 0
    max_attempts: int = 3
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    finished_at: datetime | None = None
    webhook_url: str | None = None
    public_url: str | None = None  # base of image_url, as the submitting request saw it
    end_seq: int | None = None  # the commit order of its end, among every task's
    claims: int = 0  # claims ever made: a new one is a new run, its progress from 0


def task_to_wire(task: Task) -> dict[str, Any]:
    """A task as JSON, for remote workers."""
    return {
        "id": task.id,
        "api_key_id": task.api_key_id,
        "kind": task.kind,
        "status": task.status.value,
        "engine": task.engine,
        "spec": task.spec.model_dump(),
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "progress": task.progress,
        "claims": task.claims,
        "lease_owner": task.lease_owner,
        "lease_expires_at": task.lease_expires_at.isoformat() if task.lease_expires_at else None,
    }


def task_from_wire(data: dict[str, Any]) -> Task:
    return Task(
        id=data["id"],
        api_key_id=data["api_key_id"],
        kind=data["kind"],
        status=TaskStatus(data["status"]),
        engine=data["engine"],
        spec=JobSpec.model_validate(data["spec"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        attempts=data["attempts"],
        max_attempts=data["max_attempts"],
        progress=data.get("progress", 0.0),
        claims=data.get("claims", 0),
        lease_owner=data.get("lease_owner"),
        lease_expires_at=(
            datetime.fromisoformat(data["lease_expires_at"])
            if data.get("lease_expires_at")
            else None
        ),
    )


@dataclass
class Batch:
    id: str
    api_key_id: str
    kind: Kind
    created_at: datetime
    tasks: list[Task] = field(default_factory=list)

    @property
    def status(self) -> TaskStatus:
        return batch_status([t.status for t in self.tasks])

    @property
    def progress(self) -> float:
        return batch_progress([(t.status, t.progress) for t in self.tasks])


def batch_status(statuses: list[TaskStatus]) -> TaskStatus:
    """A batch's status from its items': completed once every item is terminal;
    failed/canceled only when no item completed (also read by task-status's fast path)."""
    if not all(s.is_terminal() for s in statuses):
        if all(s is TaskStatus.QUEUED for s in statuses):
            return TaskStatus.QUEUED
        return TaskStatus.PROCESSING
    if any(s is TaskStatus.COMPLETED for s in statuses):
        return TaskStatus.COMPLETED
    if all(s is TaskStatus.CANCELED for s in statuses):
        return TaskStatus.CANCELED
    return TaskStatus.FAILED


def batch_progress(items: list[tuple[TaskStatus, float]]) -> float:
    """A batch's progress from its items' (status, progress): ended items count as done."""
    if not items:
        return 1.0
    done = [1.0 if s.is_terminal() else p for s, p in items]
    return sum(done) / len(done)


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery of one task's terminal state."""

    id: str
    task_id: str
    api_key_id: str
    url: str
    attempts: int


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    account_id: str | None = None
    rate_limit_per_minute: int | None = None  # None: the server's default
    quota_per_day: int | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Account:
    """Who owns API keys, their tasks and their usage; signs in to the dashboard."""

    id: str
    email: str
    name: str
    is_admin: bool
    created_at: datetime
    disabled_at: datetime | None = None
    has_password: bool = False


def task_ids(target: Task | Batch) -> list[str]:
    """The ids of a task (itself) or of a batch's tasks."""
    return [t.id for t in target.tasks] if isinstance(target, Batch) else [target.id]
