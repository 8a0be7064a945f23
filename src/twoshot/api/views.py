"""Wire shapes for the OpenAPI schema: what task-status and the POST routes answer. The
bodies themselves are built by ``twoshot.status`` (webhooks and the CLI use it too)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from twoshot.domain import TaskStatus

__all__ = ["ERRORS", "SUBMIT_ERRORS", "ErrorBody", "Submitted", "TaskStatusBody"]


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
SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Idempotency-Key reused with another request."},
    413: {
        "model": ErrorBody,
        "description": "An image or the body is over the byte or pixel limit.",
    },
    429: {"model": ErrorBody, "description": "Rate limit, quota or queue bound: see Retry-After."},
}
