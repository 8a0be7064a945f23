"""Results without polling: ``Prefer: wait`` on the POST routes, and the task-status event
stream (Server-Sent Events). Both wait on ``twoshot.live.TaskEvents``: no thread and no
worker is held while a client waits, only its connection.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from twoshot.api.deps import base_url, read, runtime
from twoshot.api.views import ERRORS
from twoshot.domain import ApiKey, Batch, Task, task_ids
from twoshot.errors import NotFound, TwoshotError
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


async def _keyed_read(rt: Runtime, request: Request, ident: str) -> Task | Batch:
    """The task or batch with the request's key checked in the same read (task-status's own,
    one query for a task): a waiter's re-reads use it too, so a key revoked, or an account
    disabled, while its client waits gets 401, not the result."""
    return await read(rt, rt.service.status, ident, request.headers.get("x-api-key"))


def _digits(text: str) -> int | None:
    """ASCII digits only (``str.isdigit`` takes "²" too, which ``int`` refuses), at most 9."""
    return int(text) if 0 < len(text) <= 9 and text.isascii() and text.isdigit() else None


def _ended(target: Task | Batch) -> bool:
    return target.status.is_terminal()  # a batch's: terminal once every task is


async def _known_ids(rt: Runtime, ident: str, key: ApiKey) -> list[str]:
    """The tasks to watch: a task's own id, or a batch's tasks (read: they never change)."""
    if not ident.startswith("batch-"):
        return [ident]
    return task_ids(await _read(rt, ident, key))


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
    recheck = Recheck(rt.settings.live_recheck)
    ident = answer["task_id"]
    try:
        # watch first, then read: an end that commits after the read still wakes the watch
        with rt.events.watch(await _known_ids(rt, ident, key)) as watch:
            target = await _read(rt, ident, key)
            while not _ended(target):
                left = deadline - time.monotonic()
                if left <= 0 or rt.events.closing:  # time is up, or the server is stopping
                    return JSONResponse(answer, headers=applied)
                recheck.woken(await watch.wait(min(left, recheck.interval)))
                target = await _keyed_read(rt, request, ident)
    except NotFound:  # deleted meanwhile: what was asked (submit, cancel) still happened
        return JSONResponse(answer, headers=applied)
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


RETRY = "retry: 1000\n\n"  # how long a client waits before it reconnects
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffers


def sse_event(name: str, data: Any, event_id: str | None = None) -> str:
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
    # task-status's keyed read: inline on SQLite (a thread hop cost 1 ms of CPU here); 401 /
    # 404 now, as a plain answer
    ids = task_ids(await _keyed_read(rt, request, task_id))
    base = base_url(request)
    resume = request.headers.get("last-event-id", "")

    async def stream() -> AsyncIterator[str]:
        cursor = Cursor.parse(resume)
        yield RETRY
        last_write = time.monotonic()
        recheck = Recheck(rt.settings.live_recheck)
        with rt.events.watch(ids) as watch:  # watch first, then read
            while True:
                try:
                    current = await _keyed_read(rt, request, task_id)
                except TwoshotError as exc:  # deleted while watched, or the key revoked
                    yield sse_event("error", {"error": exc.to_dict()})
                    return
                for name, data, event_id in cursor.news(current, rt, base):
                    yield sse_event(name, data, event_id)
                if _ended(current):
                    yield sse_event("done", status_body(current, base), "end")
                    return
                recheck.woken(await watch.wait(recheck.interval))
                if rt.events.closing or await request.is_disconnected():
                    return  # a client resumes on another replica with Last-Event-ID
                if time.monotonic() - last_write > KEEPALIVE:
                    yield ": keep-alive\n\n"
                    last_write = time.monotonic()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers=STREAM_HEADERS,
    )


class Cursor:
    """What a stream has sent, as its event ids say, so a resumed stream sends only news.

    A batch's items go out in the order their ends committed (``Task.end_seq``; within one
    transaction, by index), with the id ``<end_seq>.<index>``: an item that commits later
    always sorts after every item already seen, whatever its ``finished_at`` says. A task's
    progress id is ``claims * 10000 + per mille``: a new claim (a retry) starts above every
    id of the run before, so its progress from 0 is sent again."""

    def __init__(self, item: tuple[int, int] = (-1, -1), progress: int = -1):
        self.item = item
        self.progress = progress

    @classmethod
    def parse(cls, last_event_id: str) -> Cursor:
        seq, dot, index = last_event_id.partition(".")
        if dot:
            first, second = _digits(seq), _digits(index)
            return cls() if first is None or second is None else cls(item=(first, second))
        progress = _digits(last_event_id)
        return cls() if progress is None else cls(progress=progress)

    def news(
        self, current: Task | Batch, rt: Runtime, base: str
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        if isinstance(current, Batch):
            ended = [t for t in current.tasks if t.status.is_terminal()]
            for item in sorted(ended, key=_end_order):
                if _end_order(item) > self.item:
                    self.item = _end_order(item)
                    yield "item", task_body(item, base), "{}.{}".format(*self.item)
            return
        local = rt.events.latest_progress(current.id, current.claims) or 0.0
        permille = int(max(current.progress, local) * 1000)
        progress_id = current.claims * 10000 + permille
        if not current.status.is_terminal() and progress_id > self.progress:
            self.progress = progress_id
            data = {
                "task_id": current.id,
                "status": current.status.value,
                "progress": permille / 1000,
            }
            yield "progress", data, str(progress_id)


def _end_order(task: Task) -> tuple[int, int]:
    return task.end_seq or 0, task.batch_index or 0
