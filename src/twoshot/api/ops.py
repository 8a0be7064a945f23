"""Operational routes: liveness and readiness."""

from __future__ import annotations

import hmac
import ipaddress
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from twoshot.api.deps import client_address, runtime
from twoshot.errors import Forbidden, NotFound, Unauthorized
from twoshot.metrics import CONTENT_TYPE
from twoshot.worker import WorkerState

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/metrics", summary="Prometheus metrics of this process", response_class=Response)
def metrics(request: Request) -> Response:
    """Worker ids, queue depth and failures are the operator's: with TWOSHOT_METRICS_PORT
    they are on their own port only; with TWOSHOT_METRICS_TOKEN they need it as a bearer
    token; with neither, only a client on this machine gets them."""
    settings = runtime(request).settings
    if settings.metrics_port is not None:
        raise NotFound(f"metrics are served on their own port ({settings.metrics_port})")
    if settings.metrics_token:
        expected = f"Bearer {settings.metrics_token}".encode()
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            raise Unauthorized("send the metrics token: Authorization: Bearer <token>")
    elif not _loopback(client_address(request)):
        raise Forbidden(
            "metrics answer only clients on this machine; set TWOSHOT_METRICS_TOKEN (or "
            "TWOSHOT_METRICS_PORT) to scrape them from elsewhere",
            code="metrics_forbidden",
        )
    return Response(runtime(request).metrics.render(), media_type=CONTENT_TYPE)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


BLOB_CHECK_EVERY = 5.0  # seconds: a balancer polling /readyz does not write each time


def _blobs_writable(request: Request) -> str:
    """Whether the blob store takes a write: a replica whose disk is full or read-only
    fails every task (storage_error), so the balancer should stop sending it work."""
    state = request.app.state
    checked = getattr(state, "blobs_checked", None)
    now = time.monotonic()
    if checked is not None and now - checked[0] < BLOB_CHECK_EVERY:
        return str(checked[1])
    try:
        runtime(request).blobs.check_writable()
        verdict = "ok"
    except Exception as exc:
        verdict = f"failing: {type(exc).__name__}"
    state.blobs_checked = (now, verdict)
    return verdict


@router.get("/readyz", summary="The store answers, the blob store takes writes, workers run")
def readyz(request: Request) -> JSONResponse:
    rt = runtime(request)
    checks: dict[str, str] = {}
    try:
        queue = rt.dashboard.queue()
        checks["store"] = "ok"
    except Exception as exc:
        queue = {}
        checks["store"] = f"failing: {type(exc).__name__}"
    checks["blobs"] = _blobs_writable(request)
    dead = [w.owner for w in rt.workers if w.state is WorkerState.STOPPED]
    checks["workers"] = "ok" if not dead else f"stopped: {', '.join(dead)}"
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": checks,
        "queue": queue,
        "content_policy": rt.policy.describe(),  # what this process refuses (README)
    }
    return JSONResponse(body, status_code=200 if ready else 503)
