"""Routes for remote workers: claim, heartbeat, finish, release, inputs and results over HTTP.

Workers on other machines need neither database credentials nor a shared disk. They
authenticate with a worker token (``Authorization: Bearer tsw_…``), which is not an API key:
it cannot read users' tasks, and API keys cannot use these routes. A worker's lease owner is
bound to its token, so one token cannot finish another's tasks.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from twoshot.api.deps import runtime
from twoshot.blobs import is_result_name, new_result_name
from twoshot.domain import ErrorInfo, TaskStatus, task_to_wire
from twoshot.errors import InvalidInput, NotFound, Unauthorized
from twoshot.runtime import queue_depth as pool_depths

router = APIRouter(prefix="/worker", include_in_schema=False)


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    token_id = (
        runtime(request).store.worker_for(secret.strip()) if scheme.lower() == "bearer" else None
    )
    if token_id is None:
        raise Unauthorized("send a worker token as 'Authorization: Bearer tsw_…'")
    return token_id


def _owner(request: Request, owner: str) -> str:
    return f"{_token(request)}/{owner[:64]}"


class Claim(BaseModel):
    owner: str
    engines: list[str]
    lease_seconds: float = 60.0


class Beat(BaseModel):
    owner: str
    progress: float | None = None
    lease_seconds: float = 60.0


class Finish(BaseModel):
    owner: str
    status: TaskStatus
    result_key: str | None = None
    quality: dict[str, Any] | None = None
    error: dict[str, str] | None = None


class Owner(BaseModel):
    owner: str


@router.post("/claim")
def claim(request: Request, body: Claim) -> dict:
    """The task, and with an S3 blob store, where to upload its result: a presigned PUT URL
    for a fresh result name, so the image goes to the bucket and not through this process."""
    rt = runtime(request)
    task = rt.store.claim(_owner(request, body.owner), body.engines, body.lease_seconds)
    if task is None:
        return {"task": None}
    answer: dict[str, Any] = {"task": task_to_wire(task)}
    presign = getattr(rt.blobs, "presigned_result_upload", None)
    if presign is not None:
        name = new_result_name()
        seconds = int(max(600, 10 * body.lease_seconds))
        answer["upload"] = {"name": name, "url": presign(name, seconds)}
    return answer


@router.post("/tasks/{task_id}/heartbeat")
def heartbeat(request: Request, task_id: str, body: Beat) -> dict:
    beat = runtime(request).store.heartbeat(
        task_id, _owner(request, body.owner), body.progress, body.lease_seconds
    )
    return {"ours": beat.ours, "cancel_requested": beat.cancel_requested}


@router.post("/tasks/{task_id}/finish")
def finish(request: Request, task_id: str, body: Finish) -> dict:
    if not body.status.is_terminal():
        raise InvalidInput("finish needs a terminal status", field="status")
    rt = runtime(request)
    error = ErrorInfo(body.error["code"], body.error.get("message", "")) if body.error else None
    done = rt.store.finish(
        task_id,
        _owner(request, body.owner),
        body.status,
        result_key=body.result_key,
        quality=body.quality,
        error=error,
    )
    return {"finished": done}


@router.post("/tasks/{task_id}/release")
def release(request: Request, task_id: str, body: Owner) -> dict:
    return {"released": runtime(request).store.release(task_id, _owner(request, body.owner))}


@router.get("/inputs/{key}")
def get_input(request: Request, key: str) -> Response:
    _token(request)
    rt = runtime(request)
    if len(key) != 64 or rt.store.unreferenced([key]):  # only inputs of tasks still to run
        raise NotFound("no such input")
    try:
        data = rt.blobs.get_input(key)
    except FileNotFoundError:
        raise NotFound("no such input") from None
    return Response(data, media_type="image/jpeg")


@router.put("/results/{name}")
async def put_result(request: Request, name: str) -> dict:
    _token(request)
    if not is_result_name(name):
        raise InvalidInput("not a result name", field="name")
    data = await request.body()
    await run_in_threadpool(runtime(request).blobs.put_result, name, data)
    return {"stored": len(data)}


@router.delete("/results/{name}")
def delete_result(request: Request, name: str) -> dict:
    _token(request)
    if is_result_name(name):
        runtime(request).blobs.delete_result(name)
    return {"deleted": True}


@router.get("/queue-depth")
def queue_depth(request: Request) -> dict:
    """Queued plus running tasks per engine (the ``queue_depth`` view), for KEDA's
    ``metrics-api`` trigger where it should hold no database credentials: a worker token
    reads it, since a pool outside the cluster scales on what it would claim."""
    _token(request)
    rt = runtime(request)
    return {"engines": pool_depths(rt.store, rt.settings)}
