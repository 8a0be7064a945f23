"""``create_app``: the FastAPI application around a ``Runtime``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from twoshot import __version__
from twoshot.api import (
    account,
    dashboard,
    errors,
    live,
    ops,
    playground,
    submit,
    tasks,
    verify,
    webhooks,
    workers,
)
from twoshot.api.fastpath import App
from twoshot.api.limits import BodyLimit
from twoshot.api.shutdown import release_waiters_on_stop
from twoshot.runtime import Runtime

DESCRIPTION = """\
A self-hosted implementation of the Couple & Person Image API.

Submit with one of the four POST routes (multipart for single images, JSON for batches),
then poll `GET /api/task-status/{task_id}` until `status` is `completed` and fetch
`image_url`. Every `/api/…` route needs the `X-Api-Key` header, except `/api/account/…`:
the Developer Dashboard's API (`/dashboard`), which takes the session cookie of a signed-in
account instead, and the CSRF token in `X-CSRF-Token` on every change. Errors are
`{"error": {"code", "message", "field"}}`.
"""


def create_app(rt: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        """The runtime's planned threads run while the app serves, and are joined after."""
        rt.events.bind(asyncio.get_running_loop())  # waiters of Prefer: wait and SSE live here
        rt.start()
        undo = release_waiters_on_stop(rt.events)
        try:
            yield
        finally:
            undo()
            rt.events.close()  # whoever still waits answers now
            await run_in_threadpool(rt.stop)
            await rt.fetcher.aclose()  # its httpx client lives on this event loop

    app = App(title="twoshot", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.runtime = rt
    errors.install(app)
    app.include_router(submit.router)
    app.include_router(webhooks.router)
    app.include_router(verify.router)
    app.include_router(tasks.router)
    app.include_router(live.router)
    app.include_router(ops.router)
    app.include_router(playground.router)
    app.include_router(workers.router)
    app.include_router(account.router)
    app.include_router(dashboard.router)
    # six images at the upload limit, plus the form fields
    app.add_middleware(BodyLimit, max_bytes=6 * rt.settings.max_upload_bytes + (1 << 20))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, less the 422 it documents by default: twoshot answers 400."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=[*app.routes, *tasks.docs.routes],  # task-status: see tasks.py
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema
