"""The Developer Dashboard's pages: static HTML with plain JS over ``/api/account``.

No build step and nothing from a CDN (the server may have no internet). The pages are
served with a strict Content-Security-Policy, never framed, never cached, and send no
Referer: the one-time sign-in link carries its token in the URL's fragment, which no
server, proxy log or Referer ever sees.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from twoshot.api.account import COOKIE
from twoshot.api.deps import runtime
from twoshot.errors import NotFound

router = APIRouter(prefix="/dashboard", include_in_schema=False)

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        # no 'unsafe-inline': the pages' scripts and styles are files of their own, so an
        # injected <script> or on…= attribute would not run
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@cache
def _page(name: str) -> str:
    return files("twoshot").joinpath(f"static/{name}").read_text(encoding="utf-8")


def _html(name: str) -> HTMLResponse:
    return HTMLResponse(_page(name), headers=HEADERS)


ASSETS = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "login.js": "text/javascript",
    "login.css": "text/css",
}


@router.get("/static/{name}")
def asset(name: str) -> Response:
    """The pages' scripts and styles (nothing else under static/ is served here)."""
    media = ASSETS.get(name)
    if media is None:
        raise NotFound(f"no dashboard asset {name!r}")
    return Response(_page(name), media_type=f"{media}; charset=utf-8", headers=HEADERS)


@router.get("")
def dashboard(request: Request) -> Response:
    """The dashboard for a signed-in account; anyone else goes to the sign-in page."""
    if runtime(request).accounts.session(request.cookies.get(COOKIE)) is None:
        return RedirectResponse("/dashboard/login", status_code=303, headers=HEADERS)
    return _html("dashboard.html")


@router.get("/login")
def login() -> HTMLResponse:
    return _html("login.html")


@router.get("/welcome")
def welcome() -> HTMLResponse:
    """Where a sign-in link leads: set a password (the token is in the fragment)."""
    return _html("login.html")
