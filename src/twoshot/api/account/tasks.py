"""An account's tasks: the list, one task's status, and its thumbnail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from twoshot.api.account.keys import own_key
from twoshot.api.account.session import Session, Signed, account_router
from twoshot.api.account.thumbnails import THUMBNAILS
from twoshot.api.account.usage import KeyFilter
from twoshot.api.deps import base_url, runtime
from twoshot.api.views import ErrorBody
from twoshot.domain import ApiKey, Task, TaskStatus
from twoshot.errors import NotFound
from twoshot.status import task_body

router = account_router()


def _task_row(task: Task, keys: dict[str, ApiKey]) -> dict[str, Any]:
    quality = task.quality or {}
    key = keys.get(task.api_key_id)
    kept = task.status is TaskStatus.COMPLETED and task.result_key is not None
    return {
        "task_id": task.id,
        "status": task.status.value,
        "kind": task.kind,
        "engine": task.engine,
        "key_id": task.api_key_id,
        "key_name": key.name if key else None,
        "batch_id": task.batch_id,
        "created_at": task.created_at.isoformat(),
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
        "seconds": (
            round((task.finished_at - task.created_at).total_seconds(), 2)
            if task.finished_at
            else None
        ),
        "error_code": task.error.code if task.error else None,
        "identity": [
            {"role": p.get("role"), "found": p.get("found"), "distance": p.get("distance")}
            for p in quality.get("persons", [])
        ],
        "flags": quality.get("flags", []),
        "thumbnail_url": f"/api/account/tasks/{task.id}/thumbnail" if kept else None,
    }


@router.get("/tasks", summary="This account's latest tasks, newest first")
def list_tasks(
    request: Request,
    s: Signed,
    key: KeyFilter = None,
    status: Annotated[TaskStatus | None, Query()] = None,
    before: Annotated[float | None, Query(description="created_at (UNIX s) to page on")] = None,
    before_id: Annotated[
        str | None, Query(max_length=64, description="with before: the last task id seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    rt = runtime(request)
    if key is not None:
        own_key(rt, s, key)
    found = rt.dashboard.tasks(
        s.account.id,
        key_id=key,
        status=status.value if status else None,
        before=before,
        before_id=before_id,
        limit=limit,
    )
    keys = {k.id: k for k in rt.dashboard.keys(s.account.id)[0]}
    last = found[-1] if len(found) == limit else None
    return {
        "tasks": [_task_row(t, keys) for t in found],
        # the next page starts after this task: tasks created in the same instant are not
        # skipped (a batch's tasks share one created_at)
        "next_before": last.created_at.timestamp() if last else None,
        "next_before_id": last.id if last else None,
    }


def _own_task(rt: Any, s: Session, task_id: str) -> Task:
    return rt.dashboard.task(s.account.id, task_id)


@router.get("/tasks/{task_id}", summary="A task's task-status JSON")
def get_task(request: Request, task_id: str, s: Signed) -> dict[str, Any]:
    rt = runtime(request)
    return task_body(_own_task(rt, s, task_id), base_url(request))


@router.get(
    "/tasks/{task_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorBody}},
    summary="A small JPEG of a task's result, while the result is kept",
)
def thumbnail(request: Request, task_id: str, s: Signed) -> Response:
    rt = runtime(request)
    task = _own_task(rt, s, task_id)
    data = None
    if task.status is TaskStatus.COMPLETED and task.result_key:
        data = THUMBNAILS.get(task.result_key, rt.blobs.get_result)
    if data is None:
        raise NotFound(f"task {task_id!r} has no result to show (not done, or expired)")
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
