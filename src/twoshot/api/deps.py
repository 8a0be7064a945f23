"""What every route needs: the runtime, the caller's API key, and the public base URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from twoshot.domain import ApiKey
from twoshot.runtime import Runtime

T = TypeVar("T")

api_key_header = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="Your twoshot API key"
)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def read(rt: Runtime, fn: Callable[..., T], *args: Any) -> T:
    """A keyed store read: on the event loop where it is cheap (SQLite, see
    ``SqlStore.inline_reads``; on a connection of the loop's own, so it never waits for
    the pool), else in the thread pool."""
    if rt.service.inline_reads:
        with rt.service.inline():
            return fn(*args)
    return await run_in_threadpool(fn, *args)


def authenticate(rt: Runtime, secret: str | None) -> ApiKey:
    return rt.service.authenticate(secret)


async def api_key(request: Request, secret: str | None = Security(api_key_header)) -> ApiKey:
    """For async routes: the key lookup runs in the thread pool, off the event loop."""
    return await run_in_threadpool(authenticate, runtime(request), secret)


def client_address(request: Request) -> str:
    """The client's address, as the per-address limits count it: the connection's peer,
    or what a trusted proxy said in X-Forwarded-For (``TWOSHOT_TRUSTED_PROXIES``, applied
    by uvicorn; by default no proxy is trusted and the header changes nothing)."""
    return request.client.host if request.client else "unknown"


def base_url(request: Request) -> str:
    """Where result URLs point: TWOSHOT_PUBLIC_URL, else the host the client asked for
    (what Starlette's ``request.base_url`` gives, without building a URL object per poll)."""
    configured = runtime(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}".rstrip("/")
