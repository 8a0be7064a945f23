"""Operational routes: liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from twoshot.api.deps import runtime
from twoshot.metrics import CONTENT_TYPE
from twoshot.worker import WorkerState

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/metrics", summary="Prometheus metrics of this process", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(runtime(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/readyz", summary="The store answers and the workers run")
def readyz(request: Request) -> JSONResponse:
    rt = runtime(request)
    checks: dict[str, str] = {}
    try:
        queue = rt.dashboard.queue()
        checks["store"] = "ok"
    except Exception as exc:
        queue = {}
        checks["store"] = f"failing: {type(exc).__name__}"
    dead = [w.owner for w in rt.workers if w.state is WorkerState.STOPPED]
    checks["workers"] = "ok" if not dead else f"stopped: {', '.join(dead)}"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks, "queue": queue}
    return JSONResponse(body, status_code=200 if ready else 503)
