"""``/api/account/…``: the JSON API behind the dashboard, authenticated by the session cookie.

The dashboard's pages only call these routes, so whatever a page does, a script can do.
Sessions and API keys never cross: these routes read no ``X-Api-Key``, and the task routes
read no cookie. Every state-changing call needs the session's CSRF token in
``X-CSRF-Token``; sign-in and setting a password need a JSON body, which a cross-site form
cannot send. Another account's key, task or thumbnail is 404, never 403: its existence is
not disclosed.
"""

from fastapi import APIRouter

from twoshot.api.account import admin, keys, sign_in, tasks, usage
from twoshot.api.account.session import COOKIE, CSRF_HEADER

router = APIRouter()
for part in (sign_in, keys, usage, tasks, admin):
    router.include_router(part.router)

__all__ = ["COOKIE", "CSRF_HEADER", "router"]
