"""The app the API benchmark serves: twoshot's own app, plus one bare Starlette JSON route
mounted in the same process, as the ceiling to compare task-status against."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from twoshot.api import create_app
from twoshot.config import Settings
from twoshot.runtime import Background, Runtime, default_evaluator

BODY = {
    "task_id": "0" * 32,
    "status": "completed",
    "image_url": "http://127.0.0.1/results/" + "a" * 32 + ".jpg",
    "progress": 1.0,
    "error": None,
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-01T00:00:00+00:00",
}


async def bare(_request: Request) -> JSONResponse:
    return JSONResponse(BODY)


def app():  # type: ignore[no-untyped-def]
    settings = Settings()
    rt = Runtime.build(settings)
    if settings.workers:  # TWOSHOT_WORKERS=1: the wait-mode latency run, with a studio worker
        rt.plan(Background(workers=settings.workers, evaluator=default_evaluator()))
    application = create_app(rt)
    application.add_route("/bare", bare)
    return application
