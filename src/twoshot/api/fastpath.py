"""task-status's fast path: the request clients send most, answered before FastAPI's routing,
middleware and request objects (bench/RESULTS.md, "task-status next to a bare app").

``App`` is twoshot's FastAPI application. A ``GET /api/task-status/{id}`` that carries an
``X-Api-Key`` is answered here from one keyed read of only the columns the body shows
(``twoshot.store.sql.polls``), its body built from the row with orjson, with no domain object.
Everything else, and every poll this path does not answer with a 200 (no key, a bad key,
another key's id, an unknown id, a database error, a HEAD, a body, FastAPI's telemetry
switched on), goes through the ordinary app, whose route (``api/tasks.py``) stays the
reference and stays in ``/openapi.json``. A miss therefore costs one read more than before,
and every error body, status and metric is the ordinary route's own.

The event stream of a task that has already ended (``GET …/{id}/events``) is answered here
too: it holds nothing but the ``retry`` line and the ``done`` event (``api/live.py``), so it
goes out whole, with a length, not as a stream. A live task's stream, and a batch's, are the
ordinary route's.

Nothing is cached between polls: a deleted task, a revoked key and a disabled account are
refused at the next poll on every replica, because every poll reads the database.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from twoshot.api.deps import base_url
from twoshot.api.live import RETRY, STREAM_HEADERS, sse_event
from twoshot.domain import TaskStatus, batch_progress, batch_status
from twoshot.runtime import Runtime

PREFIX = "/api/task-status/"
EVENTS = "/events"
COMPLETED = TaskStatus.COMPLETED.value
JSON_HEADERS = [(b"content-type", b"application/json")]
# api/live.py's StreamingResponse headers
EVENT_HEADERS = [
    *((name.lower().encode(), value.encode()) for name, value in STREAM_HEADERS.items()),
    (b"content-type", b"text/event-stream; charset=utf-8"),
]


class App(FastAPI):
    """twoshot's FastAPI application, with task-status polls answered by ``FastPath``."""

    fast_polls = True  # tests switch it off to compare with the ordinary route
    _fast: FastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_polls and scope["type"] == "http" and scope["path"].startswith(PREFIX):
            if self._fast is None:
                self._fast = FastPath(self)
            if await self._fast(scope, send):
                return
        await super().__call__(scope, receive, send)


class FastPath:
    def __init__(self, app: App):
        rt: Runtime = app.state.runtime
        self._app = app
        self._reads = rt.service.polls  # a SqlStore's; else never fast
        self._inline = rt.service.inline_reads
        self._service = rt.service
        # FastAPI's own telemetry (when an OpenTelemetry provider is configured) sees only
        # what goes through FastAPI: then every poll does
        telemetry = getattr(app, "_native_telemetry", None)
        self.enabled = self._reads is not None and not (telemetry and telemetry.enabled())
        self._bodies = Bodies()

    async def __call__(self, scope: Scope, send: Send) -> bool:
        """Answer the poll and return True, or return False having sent nothing."""
        ident = scope["path"][len(PREFIX) :]
        events = ident.endswith(EVENTS)
        if events:
            ident = ident[: -len(EVENTS)]
        if (
            not self.enabled
            or scope["method"] != "GET"
            or not ident
            or "/" in ident
            or len(ident) > 64
            or "\x00" in ident  # no id holds one, and PostgreSQL refuses it: the route 404s
            or scope.get("root_path")
        ):
            return False
        secret = host = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                if secret is None:  # the first, as Starlette's headers.get
                    secret = value
            elif name == b"host":
                if host is None:
                    host = value
            elif name in (b"content-length", b"transfer-encoding") and value != b"0":
                return False  # a body: the ordinary app's limits apply
        if not secret:
            return False
        key = secret.decode("latin-1").strip()
        if not key:
            return False
        batch = ident.startswith("batch-")
        if events and batch:
            return False  # its items' events: the route's
        digest = hashlib.sha256(key.encode()).hexdigest()  # store.sql.base.hash_secret
        read = self._reads.batch if batch else self._reads.task
        try:
            if self._inline:
                # on the loop's own connection, never the pool's
                found = read(ident, digest, self._service.inline_connection())
            else:
                found = await run_in_threadpool(read, ident, digest)
        except Exception:  # the ordinary route meets it again, and answers and logs it
            return False
        if found is None:
            return False
        version = _ended_version(found) if batch else _ended_version([found], 0, 1, 7, 2)
        if events and version is None:
            return False  # still running: the route streams its progress
        cached = (ident, version, host, scope.get("scheme"), events) if version else None
        body = self._bodies.get(cached) if cached is not None else None
        if body is None:
            scope["app"] = self._app  # what Starlette sets, for base_url's request.app
            base = base_url(Request(scope))
            try:
                body = batch_json(ident, found, base) if batch else task_json(found, base)
                if events:
                    body = ended_events(body)
            except Exception:  # a row it cannot encode: the ordinary route answers (and logs)
                return False
            if cached is not None:
                self._bodies.put(cached, body)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    *(EVENT_HEADERS if events else JSON_HEADERS),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True


class Bodies:
    """Encoded bodies of ended tasks and batches, by the row's version: nothing in an ended
    task's body changes but its result (retention forgets it), so a body whose key names the
    id, the ``updated_at`` and the result of every task in it is never stale. It spares the
    encoding only: every poll still reads the row, so a deleted task, a revoked key or a
    disabled account is refused at once here and on every other replica."""

    def __init__(self, max_bytes: int = 8 << 20):
        self._bodies: dict[Any, bytes] = {}
        self._bytes = 0
        self._max = max_bytes

    def get(self, key: Any) -> bytes | None:
        return self._bodies.get(key)

    def put(self, key: Any, body: bytes) -> None:
        self._bodies[key] = body
        self._bytes += len(body)
        while self._bytes > self._max:  # the oldest first (dicts keep insertion order)
            self._bytes -= len(self._bodies.pop(next(iter(self._bodies))))


_TERMINAL = frozenset(s.value for s in TaskStatus if s.is_terminal())


def _ended_version(
    rows: list[tuple[Any, ...]], ident: int = 3, status: int = 4, updated: int = 9, result: int = 5
) -> tuple[Any, ...] | None:
    """What an ended task's (or every task of an ended batch's) body depends on: each task's
    id, ``updated_at`` and result; None while one is still queued or running."""
    if not all(r[status] in _TERMINAL for r in rows):
        return None
    return tuple((r[ident], r[updated], r[result]) for r in rows)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _quality(stored: str | None) -> Any:
    """The stored quality JSON, re-encoded as the ordinary route's JSONResponse encodes it
    (json's float and integer spelling, not orjson's: 1e-05, not 0.00001; integers past 64
    bits; any depth), and embedded as is. Only an ended task has one, whose encoded body is
    then reused (``Bodies``). What JSONResponse refuses (NaN) raises, and the route answers."""
    if not stored:
        return None
    decoded = json.loads(stored)
    return orjson.Fragment(
        json.dumps(decoded, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    )


def task_json(row: tuple[Any, ...], base: str) -> bytes:
    """``twoshot.status.task_body`` of a ``polls.TASK_COLUMNS`` row, encoded."""
    (ident, status, result, progress, code, message, created, updated, kind, engine) = row[:10]
    attempts, quality, batch_id = row[10:]
    completed = status == COMPLETED
    body: dict[str, Any] = {
        "task_id": ident,
        "status": status,
        "image_url": f"{base}/results/{result}" if completed and result else None,
        "progress": round(progress, 4),
        "error": {"code": code, "message": message or ""} if code else None,
        "created_at": _iso(created),
        "updated_at": _iso(updated),
        "kind": kind,
        "engine": engine,
        "attempts": attempts,
    }
    if completed:
        body["quality"] = _quality(quality)
        if result is None:
            body["result_expired"] = True
    if batch_id is not None:
        body["batch_id"] = batch_id
    return orjson.dumps(body)


def ended_events(body: bytes) -> bytes:
    """The whole event stream of an ended task whose task-status body is ``body``: the
    ``retry`` line and the ``done`` event, spelt as ``api/live.py`` spells them (its
    ``json.dumps``, ASCII only; parsed back with ``json``, which keeps integers past 64 bits
    that orjson would turn into floats, its floats print the same)."""
    return (RETRY + sse_event("done", json.loads(body), "end")).encode()


def batch_json(ident: str, rows: list[tuple[Any, ...]], base: str) -> bytes:
    """``twoshot.status.batch_body`` of ``polls.PollReads.batch`` rows, encoded."""
    kind, created = rows[0][0], rows[0][1]
    items = [r[3:] for r in rows if r[3] is not None]  # an empty batch: one row of NULLs
    statuses = [TaskStatus(i[1]) for i in items]
    urls = [f"{base}/results/{i[2]}" if i[1] == COMPLETED and i[2] else None for i in items]
    updated = max((i[6] for i in items), default=created)
    progress = batch_progress([(s, i[3]) for s, i in zip(statuses, items, strict=True)])
    return orjson.dumps(
        {
            "task_id": ident,
            "status": batch_status(statuses).value,
            "image_url": urls[0] if urls else None,
            "image_urls": urls,
            "progress": round(progress, 4),
            "error": None,
            "created_at": _iso(created),
            "updated_at": _iso(updated),
            "kind": kind,
            "tasks": [
                {
                    "task_id": i[0],
                    "status": i[1],
                    "image_url": url,
                    "error": {"code": i[4], "message": i[5] or ""} if i[4] else None,
                    "quality": _quality(i[7]),
                }
                for i, url in zip(items, urls, strict=True)
            ],
        }
    )
