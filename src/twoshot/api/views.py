"""Wire shapes: what task-status and the POST routes answer (pydantic for the OpenAPI schema)
and the functions that build those bodies from domain objects."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from twoshot.domain import Batch, Task, TaskStatus


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Submitted(BaseModel):
    task_id: str
    status: str = "queued"
    task_ids: list[str] | None = None


class TaskError(BaseModel):
    code: str
    message: str


class TaskStatusBody(BaseModel):
    task_id: str
    status: TaskStatus
    image_url: str | None
    progress: float
    error: TaskError | None
    created_at: str
    updated_at: str
    kind: str | None = None
    engine: str | None = None
    attempts: int | None = None
    quality: dict[str, Any] | None = None
    batch_id: str | None = None
    image_urls: list[str | None] | None = None
    tasks: list[dict[str, Any]] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request: the error says what to fix."},
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked X-Api-Key."},
}


def result_url(base: str, task: Task) -> str | None:
    if task.status is TaskStatus.COMPLETED and task.result_key:
        return f"{base}/results/{task.result_key}"
    return None


def task_body(task: Task, base: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_id": task.id,
        "status": task.status.value,
        "image_url": result_url(base, task),
        "progress": round(task.progress, 4),
        "error": {"code": task.error.code, "message": task.error.message} if task.error else None,
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        "kind": task.kind,
        "engine": task.engine,
        "attempts": task.attempts,
    }
    if task.status is TaskStatus.COMPLETED:
        body["quality"] = task.quality
        if task.result_key is None:
            body["result_expired"] = True
    if task.batch_id is not None:
        body["batch_id"] = task.batch_id
    return body


def batch_body(batch: Batch, base: str) -> dict[str, Any]:
    urls = [result_url(base, t) for t in batch.tasks]
    updated = max((t.updated_at for t in batch.tasks), default=batch.created_at)
    return {
        "task_id": batch.id,
        "status": batch.status.value,
        "image_url": urls[0] if urls else None,
        "image_urls": urls,
        "progress": round(batch.progress, 4),
        "error": None,
        "created_at": batch.created_at.isoformat(),
        "updated_at": updated.isoformat(),
        "kind": batch.kind,
        "tasks": [
            {
                "task_id": t.id,
                "status": t.status.value,
                "image_url": url,
                "error": {"code": t.error.code, "message": t.error.message} if t.error else None,
                "quality": t.quality,
            }
            for t, url in zip(batch.tasks, urls, strict=True)
        ],
    }
