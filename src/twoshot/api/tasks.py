"""Reading and acting on tasks: task-status (tasks and batches), cancel, delete, result files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, Security
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from twoshot.api.deps import api_key_header, authenticate, base_url, read, runtime
from twoshot.api.live import PREFER_DOC, answer_after_waiting
from twoshot.api.views import ERRORS, ErrorBody, TaskStatusBody
from twoshot.status import status_body

router = APIRouter(responses=ERRORS)

Secret = Annotated[str | None, Security(api_key_header)]
Prefer = Annotated[str | None, Header(alias="Prefer", description=PREFER_DOC)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown id, or another key's."}
}


async def _status(request: Request, task_id: str, secret: str | None) -> JSONResponse:
    rt = runtime(request)
    target = await read(rt, rt.service.status, task_id, secret)
    return JSONResponse(status_body(target, base_url(request)))


STATUS_PATH = "/api/task-status/{task_id}"


async def task_status_endpoint(request: Request) -> JSONResponse:
    """task-status, the route clients poll, as a plain Starlette endpoint: FastAPI's
    per-request dependency solving would cost more than the whole lookup (bench/RESULTS.md)."""
    return await _status(request, request.path_params["task_id"], request.headers.get("x-api-key"))


# Two declarations of one route, on purpose: the live one above serves every request, and
# the FastAPI one below only describes it for /openapi.json and /docs (app._openapi reads
# ``docs``; no request reaches it). Same path, same parameters, same body (``_status``).
router.add_route(STATUS_PATH, task_status_endpoint, methods=["GET"])
docs = APIRouter(responses=ERRORS)


@docs.get(
    STATUS_PATH,
    response_model=TaskStatusBody,
    responses=NOT_FOUND,
    tags=["tasks"],
    summary="Status of a task or a batch; image_url once completed",
)
async def task_status(request: Request, task_id: str, secret: Secret = None) -> JSONResponse:
    return await _status(request, task_id, secret)


# The routes below are sync: FastAPI runs them in its thread pool, so the store's blocking
# I/O never holds the event loop.


@router.post(
    "/api/task/{task_id}/cancel",
    response_model=TaskStatusBody,
    responses=NOT_FOUND,
    tags=["tasks"],
    summary="Cancel a task or every task of a batch (running ones stop at their next step)",
)
async def cancel_task(
    request: Request, task_id: str, secret: Secret = None, prefer: Prefer = None
) -> Any:
    """With ``Prefer: wait``, a running task's answer comes once it has stopped."""
    rt = runtime(request)
    key = await run_in_threadpool(authenticate, rt, secret)
    target = await run_in_threadpool(rt.service.cancel, task_id, key)
    return await answer_after_waiting(request, key, status_body(target, base_url(request)), prefer)


@router.delete(
    "/api/task/{task_id}",
    status_code=204,
    responses=NOT_FOUND,
    tags=["tasks"],
    summary="Delete a task or batch with its result images and reference photos",
)
def delete_task(request: Request, task_id: str, secret: Secret = None) -> Response:
    rt = runtime(request)
    key = authenticate(rt, secret)
    rt.service.delete(task_id, key)
    return Response(status_code=204)


@router.get(
    "/results/{name}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorBody}},
    tags=["tasks"],
    summary="A result image (no key needed: the name is unguessable)",
)
def result(request: Request, name: str) -> Response:
    rt = runtime(request)
    presign = getattr(rt.blobs, "presigned_result", None)
    if rt.settings.results_presigned and presign is not None:
        seconds = int(min(3600, rt.service.result_seconds_left(name)))
        return RedirectResponse(presign(name, max(1, seconds)), status_code=307)
    data = rt.service.result(name)
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
