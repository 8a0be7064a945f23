"""Signing in and out: password, one-time links, and the session cookie they set."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from twoshot.api.account.session import COOKIE, Changing, Signed, account_router, json_only
from twoshot.api.deps import runtime
from twoshot.domain import Account
from twoshot.service.accounts import SignedIn

router = account_router()


class Credentials(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class NewPassword(BaseModel):
    token: str = Field(max_length=100)
    password: str = Field(max_length=1024)


class LinkToken(BaseModel):
    token: str = Field(max_length=100)


def _me(account: Account, csrf: str) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "is_admin": account.is_admin,
        "csrf_token": csrf,
    }


def _signed_in(request: Request, signed: SignedIn) -> JSONResponse:
    """The answer of a sign-in: a new session id in the cookie (the old one, if any, ends)."""
    rt = runtime(request)
    rt.accounts.sign_out(request.cookies.get(COOKIE))
    response = JSONResponse(_me(signed.account, signed.csrf))
    secure = request.url.scheme == "https" or (rt.settings.public_url or "").startswith("https:")
    response.set_cookie(
        COOKIE,
        signed.session,
        max_age=int(rt.settings.session_ttl),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/sign-in", summary="Sign in with email and password (sets the session cookie)")
def sign_in(request: Request, body: Credentials) -> JSONResponse:
    """Wrong email and wrong password get the same 401; repeated failures get 429."""
    json_only(request)
    rt = runtime(request)
    return _signed_in(request, rt.accounts.sign_in(body.email, body.password, _address(request)))


@router.post("/sign-in-link", summary="Whose a one-time sign-in link is (does not use it)")
def sign_in_link(request: Request, body: LinkToken) -> dict[str, str]:
    json_only(request)
    account = runtime(request).accounts.link_account(body.token)
    return {"email": account.email, "name": account.name}


@router.post("/password", summary="Set the password with a one-time sign-in link, and sign in")
def set_password(request: Request, body: NewPassword) -> JSONResponse:
    json_only(request)
    rt = runtime(request)
    return _signed_in(request, rt.accounts.set_password(body.token, body.password))


@router.post("/sign-out", status_code=204, summary="End this session")
def sign_out(request: Request, s: Changing) -> Response:
    runtime(request).accounts.sign_out(s.token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("", summary="The signed-in account, with the CSRF token for changing calls")
def me(s: Signed) -> JSONResponse:
    return JSONResponse(_me(s.account, s.csrf), headers={"Cache-Control": "no-store"})
