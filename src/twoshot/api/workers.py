"""Routes for remote workers: claim, heartbeat, upload, finish, release, inputs and results.

Workers on other machines need neither database credentials nor a shared disk. They
authenticate with a worker token (``Authorization: Bearer tsw_…``), which is not an API key:
it cannot read users' tasks, and API keys cannot use these routes. A worker's lease owner is
bound to its token, so one token cannot finish another's tasks. The checks live in
``twoshot.service.workers``; these routes only translate HTTP.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from twoshot.api.deps import runtime
from twoshot.domain import ErrorInfo, TaskStatus, task_to_wire
from twoshot.service.workers import RemoteWork

router = APIRouter(prefix="/worker", include_in_schema=False)


def _work(request: Request) -> RemoteWork:
    return runtime(request).remote_work


def _token(request: Request) -> str:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    return _work(request).token(secret if scheme.lower() == "bearer" else None)


def _owner(request: Request, owner: str) -> str:
    return f"{_token(request)}/{owner[:64]}"


def _no_nul(value: str) -> str:
    """PostgreSQL refuses a NUL in any text: refused here with 400, never a 500 there."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Lease = Field(default=60.0, gt=0, description="clamped to the server's maximum")


class Claim(BaseModel):
    owner: Text = Field(max_length=200)
    engines: list[Text] = Field(max_length=32)
    lease_seconds: float = Lease


class Beat(BaseModel):
    owner: Text = Field(max_length=200)
    progress: float | None = Field(default=None, allow_inf_nan=False)
    lease_seconds: float = Lease


class WorkerError(BaseModel):
    code: Text = Field(min_length=1, max_length=64)
    message: Text = Field(default="", max_length=2000)


class Finish(BaseModel):
    owner: Text = Field(max_length=200)
    status: TaskStatus
    result_key: Text | None = Field(default=None, max_length=64)
    quality: dict[str, Any] | None = None
    error: WorkerError | None = None


class Owner(BaseModel):
    owner: Text = Field(max_length=200)


@router.post("/claim")
def claim(request: Request, body: Claim) -> dict:
    task = _work(request).claim(_owner(request, body.owner), body.engines, body.lease_seconds)
    return {"task": task_to_wire(task) if task is not None else None}


@router.post("/tasks/{task_id}/heartbeat")
def heartbeat(request: Request, task_id: Text, body: Beat) -> dict:
    beat = _work(request).heartbeat(
        task_id, _owner(request, body.owner), body.progress, body.lease_seconds
    )
    return {"ours": beat.ours, "cancel_requested": beat.cancel_requested}


@router.post("/tasks/{task_id}/upload")
def upload(request: Request, task_id: Text, body: Owner) -> dict:
    """The name to store this task's result under; with S3, the presigned URL to PUT it."""
    return _work(request).upload(task_id, _owner(request, body.owner))


@router.post("/tasks/{task_id}/finish")
def finish(request: Request, task_id: Text, body: Finish) -> dict:
    error = ErrorInfo(body.error.code, body.error.message) if body.error else None
    done = _work(request).finish(
        task_id,
        _owner(request, body.owner),
        body.status,
        result_key=body.result_key,
        quality=body.quality,
        error=error,
    )
    return {"finished": done}


@router.post("/tasks/{task_id}/release")
def release(request: Request, task_id: Text, body: Owner) -> dict:
    return {"released": _work(request).release(task_id, _owner(request, body.owner))}


@router.get("/inputs/{key}")
def get_input(request: Request, key: str) -> Response:
    _token(request)
    return Response(_work(request).input(key), media_type="image/jpeg")


@router.put("/results/{name}")
async def put_result(request: Request, name: str) -> dict:
    token_id = await run_in_threadpool(_token, request)
    data = await request.body()
    await run_in_threadpool(_work(request).put_result, token_id, name, data)
    return {"stored": len(data)}


@router.delete("/results/{name}")
def delete_result(request: Request, name: str) -> dict:
    _work(request).delete_result(_token(request), name)
    return {"deleted": True}


@router.get("/queue-depth")
def queue_depth(request: Request) -> dict:
    """Queued plus running tasks per engine (the ``queue_depth`` view), for KEDA's
    ``metrics-api`` trigger where it should hold no database credentials: a worker token
    reads it, since a pool outside the cluster scales on what it would claim."""
    _token(request)
    return {"engines": _work(request).queue_depth(runtime(request).settings.allowed_engines)}
