"""The task-status body: what polling, webhooks and the CLI all show for a task or batch."""

from __future__ import annotations

from typing import Any

from twoshot.domain import Batch, Task, TaskStatus


def status_body(target: Task | Batch, base: str) -> dict[str, Any]:
    """task-status of a task or of a batch."""
    return batch_body(target, base) if isinstance(target, Batch) else task_body(target, base)


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
