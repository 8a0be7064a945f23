"""Results without polling: ``Prefer: wait`` on the POST routes, and the task-status event
stream (Server-Sent Events). Both wait on ``twoshot.live.TaskEvents``: no thread and no
worker is held while a client waits, only its connection.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from twoshot.api.deps import base_url, read, runtime
from twoshot.api.views import ERRORS
from twoshot.domain import ApiKey, Batch, Task, task_ids
from twoshot.errors import TwoshotError
from twoshot.runtime import Runtime
from twoshot.status import status_body, task_body

router = APIRouter(prefix="/api", tags=["tasks"], responses=ERRORS)

MAX_WAIT = 60.0
KEEPALIVE = 15.0
PREFER_DOC = (
    "`wait` or `wait=N` (N ≤ 60 s, RFC 7240): answer with the final task-status body if the "
    "task (every task of a batch) ends within N seconds, else with the usual queued answer"
)

_WAIT = re.compile(r"(?:^|[,;\s])wait(?:\s*=\s*\"?(\d+(?:\.\d+)?)\"?)?(?=$|[,;\s])", re.I)


def prefer_wait(header: str | None) -> float | None:
    """Seconds to wait from a ``Prefer`` header, or None when it asks for no waiting."""
    if not header:
        return None
    match = _WAIT.search(header)
    if match is None:
        return None
    seconds = float(match.group(1)) if match.group(1) else MAX_WAIT
    return max(0.0, min(MAX_WAIT, seconds))


async def _read(rt: Runtime, ident: str, key: ApiKey) -> Task | Batch:
    return await read(rt, rt.service.lookup, ident, key)


async def _reread(rt: Runtime, request: Request, ident: str) -> Task | Batch:
    """A waiter's re-read, with its key checked again: a key revoked, or an account
    disabled, while its client waits gets 401, not the result."""
    key = await read(rt, rt.service.authenticate, request.headers.get("x-api-key"))
    return await _read(rt, ident, key)


def last_event_id(header: str) -> int:
    """Where a stream resumes: ``Last-Event-ID`` as ASCII digits only (``str.isdigit`` takes
    "²" too, which ``int`` refuses) and at most 9 of them; anything else starts afresh."""
    return int(header) if 0 < len(header) <= 9 and header.isascii() and header.isdigit() else -1


def _ended(target: Task | Batch) -> bool:
    return target.status.is_terminal()  # a batch's: terminal once every task is


async def answer_after_waiting(
    request: Request, key: ApiKey, answer: dict[str, Any], prefer: str | None
) -> dict[str, Any] | JSONResponse:
    """A submission's answer, or with ``Prefer: wait``, its final body if it ends in time."""
    seconds = prefer_wait(prefer)
    if seconds is None:
        return answer
    rt = runtime(request)
    applied = {"Preference-Applied": f"wait={seconds:g}", "Vary": "Prefer"}
    deadline = time.monotonic() + seconds
    target = await _read(rt, answer["task_id"], key)
    recheck = Recheck(rt.settings.live_recheck)
    with rt.events.watch(task_ids(target)) as watch:
        while not _ended(target):
            left = deadline - time.monotonic()
            if left <= 0 or rt.events.closing:  # time is up, or the server is stopping
                return JSONResponse(answer, headers=applied)
            recheck.woken(await watch.wait(min(left, recheck.interval)))
            target = await _reread(rt, request, answer["task_id"])
    return JSONResponse(status_body(target, base_url(request)), headers=applied)


class Recheck:
    """How long a waiter sleeps before re-reading its task when no notification came: the
    base interval, doubling up to 4× while nothing happens, back to the base when woken. Many
    long waiters then cost few reads (a notification still wakes them at once)."""

    def __init__(self, base: float):
        self._base = base
        self.interval = base

    def woken(self, notified: bool) -> None:
        self.interval = self._base if notified else min(self._base * 4, self.interval * 2)


def _event(name: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get(
    "/task-status/{task_id}/events",
    summary="Server-Sent Events of a task or batch: progress, each item's end, the final body",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`progress` events ({task_id, status, progress}); for a batch, an "
            "`item` event with each task's final body as it ends; then one `done` event whose "
            "data is the task-status body, and the stream closes. Resume with Last-Event-ID.",
        },
        404: {"description": "Unknown id, or another key's."},
    },
)
async def task_events(request: Request, task_id: str) -> StreamingResponse:
    rt = runtime(request)
    # a keyed read like task-status's: inline on SQLite (a thread hop cost 1 ms of CPU here)
    key = await read(rt, rt.service.authenticate, request.headers.get("x-api-key"))
    target = await _read(rt, task_id, key)  # 401 / 404 now, as a plain answer
    base = base_url(request)
    resume = request.headers.get("last-event-id", "")

    async def stream() -> AsyncIterator[str]:
        current: Task | Batch = target
        sent = last_event_id(resume)  # task: the last progress in per mille; batch: items sent
        yield "retry: 1000\n\n"
        last_write = time.monotonic()
        recheck = Recheck(rt.settings.live_recheck)
        with rt.events.watch(task_ids(current)) as watch:
            while True:
                if isinstance(current, Batch):
                    ended = sorted(
                        (t for t in current.tasks if t.status.is_terminal()),
                        key=lambda t: (t.finished_at or t.updated_at, t.batch_index or 0),
                    )
                    for k, item in enumerate(ended[max(0, sent) :], start=max(0, sent) + 1):
                        yield _event("item", task_body(item, base), str(k))
                        sent = k
                else:
                    local = rt.events.latest_progress(current.id) or 0.0
                    permille = int(max(current.progress, local) * 1000)
                    if not current.status.is_terminal() and permille > sent:
                        sent = permille
                        data = {
                            "task_id": current.id,
                            "status": current.status.value,
                            "progress": permille / 1000,
                        }
                        yield _event("progress", data, str(permille))
                if _ended(current):
                    yield _event("done", status_body(current, base), "end")
                    return
                recheck.woken(await watch.wait(recheck.interval))
                if rt.events.closing or await request.is_disconnected():
                    return  # a client resumes on another replica with Last-Event-ID
                if time.monotonic() - last_write > KEEPALIVE:
                    yield ": keep-alive\n\n"
                    last_write = time.monotonic()
                try:
                    current = await _reread(rt, request, task_id)
                except TwoshotError as exc:  # deleted while watched, or the key revoked
                    yield _event("error", {"error": exc.to_dict()})
                    return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
