"""The session behind ``/api/account``: who is signed in, the CSRF check, the admin check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from twoshot.api.deps import runtime
from twoshot.api.views import ErrorBody
from twoshot.domain import Account
from twoshot.errors import Forbidden, InvalidInput, Unauthorized

COOKIE = "twoshot_session"
CSRF_HEADER = "X-CSRF-Token"


def account_router() -> APIRouter:
    """A router for one part of ``/api/account``: its prefix, tag and documented errors."""
    return APIRouter(
        prefix="/api/account",
        tags=["account"],
        responses={
            400: {"model": ErrorBody, "description": "Bad request: the error says what to fix."},
            401: {
                "model": ErrorBody,
                "description": "Not signed in, or a wrong email or password.",
            },
            403: {"model": ErrorBody, "description": "No CSRF token, or not an admin."},
            404: {
                "model": ErrorBody,
                "description": "Unknown id, another account's, or a used link.",
            },
            429: {"model": ErrorBody, "description": "Too many failed sign-ins: see Retry-After."},
        },
    )


@dataclass(frozen=True)
class Session:
    account: Account
    csrf: str
    token: str


def session(request: Request) -> Session:
    """The signed-in account, from the session cookie alone."""
    token = request.cookies.get(COOKIE)
    found = runtime(request).accounts.session(token)
    if found is None or token is None:
        raise Unauthorized("sign in at /dashboard/login", code="not_signed_in")
    return Session(found[0], found[1], token)


def changing(request: Request, s: Annotated[Session, Depends(session)]) -> Session:
    """A signed-in call that changes state: the session's CSRF token must come with it."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), s.csrf.encode()):
        raise Forbidden(
            f"send the session's CSRF token in {CSRF_HEADER} (GET /api/account gives it)",
            code="csrf_failed",
        )
    return s


def admin(s: Annotated[Session, Depends(session)]) -> Session:
    if not s.account.is_admin:
        raise Forbidden("only an admin account may do this", code="admin_only")
    return s


def admin_changing(
    s: Annotated[Session, Depends(changing)], _a: Annotated[Session, Depends(admin)]
) -> Session:
    return s


Signed = Annotated[Session, Depends(session)]
Changing = Annotated[Session, Depends(changing)]
Admin = Annotated[Session, Depends(admin)]
AdminChanging = Annotated[Session, Depends(admin_changing)]


def json_only(request: Request) -> None:
    """A pre-session call: only a same-origin script sends JSON (a form cannot)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidInput("send a JSON body (Content-Type: application/json)", field="body")
