"""Every error leaves the server as ``{"error": {"code", "message", "field"?}}``.

Domain errors map to statuses here and nowhere else. Validation errors are 400, not 422.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from twoshot.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    TwoshotError,
    Unauthorized,
)
from twoshot.safety.refusals import CODES as POLICY_CODES

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    RateLimited: 429,
}

_HTTP_CODES = {
    400: "invalid_field",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def status_of(exc: TwoshotError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _field_name(loc: tuple) -> str:
    parts = [p for p in loc if p not in ("body", "query", "header", "path")]
    name = ""
    for p in parts:
        name += f"[{p}]" if isinstance(p, int) else (f".{p}" if name else str(p))
    return name


def _validation_message(err: dict, field: str) -> tuple[str, str]:
    kind = err.get("type", "")
    if kind == "missing":
        return "missing_field", f"{field} is required"
    if kind == "json_invalid":
        return "invalid_field", "the body is not valid JSON; send a JSON object"
    if kind in ("model_attributes_type", "dict_type") and not field:
        return "invalid_field", "the body must be a JSON object"
    return "invalid_field", f"{field or 'the body'}: {err.get('msg', 'invalid value')}"


def install(app: FastAPI) -> None:
    @app.exception_handler(TwoshotError)
    async def _domain(request: Request, exc: TwoshotError) -> JSONResponse:
        status = status_of(exc)
        if status < 500:
            request.app.state.runtime.metrics.rejections.labels(exc.code).inc()
            if exc.code in POLICY_CODES:
                request.app.state.runtime.metrics.policy_refusals.labels(exc.code).inc()
        if status == 500:
            log.error("unmapped domain error %s: %s", exc.code, exc.message)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return error_response(status, exc.code, exc.message, exc.field, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = _field_name(tuple(first.get("loc", ())))
        code, message = _validation_message(first, field)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem(s))"
        request.app.state.runtime.metrics.rejections.labels(code).inc()
        return error_response(400, code, message, field or None)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route; see /docs for the API"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        if _nul_refused(exc):  # a client's text, not a server fault (PostgreSQL only)
            return error_response(400, "invalid_field", "text must not contain a NUL character")
        return await _internal(request, exc)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "the server failed; the error is logged")


def _nul_refused(exc: DataError) -> bool:
    """Whether the database driver refused a NUL in a text parameter (psycopg does, for any
    id, email or token a client sent with one): every route answers 400 for it, not 500."""
    return "NUL (0x00)" in str(exc.orig)
