"""``/api/account/…``: the JSON API behind the dashboard, authenticated by the session cookie.

The dashboard's pages only call these routes, so whatever a page does, a script can do.
Sessions and API keys never cross: these routes read no ``X-Api-Key``, and the task routes
read no cookie. Every state-changing call needs the session's CSRF token in
``X-CSRF-Token``; sign-in and setting a password need a JSON body, which a cross-site form
cannot send. Another account's key, task or thumbnail is 404, never 403: its existence is
not disclosed.
"""

from __future__ import annotations

import hmac
import io
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from PIL import Image
from pydantic import BaseModel, Field

from twoshot.api.deps import base_url, runtime
from twoshot.api.views import ErrorBody
from twoshot.domain import Account, ApiKey, Task, TaskStatus
from twoshot.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from twoshot.service.accounts import SignedIn
from twoshot.status import task_body

COOKIE = "twoshot_session"
CSRF_HEADER = "X-CSRF-Token"

router = APIRouter(
    prefix="/api/account",
    tags=["account"],
    responses={
        400: {"model": ErrorBody, "description": "Bad request: the error says what to fix."},
        401: {"model": ErrorBody, "description": "Not signed in, or a wrong email or password."},
        403: {"model": ErrorBody, "description": "No CSRF token, or not an admin."},
        404: {"model": ErrorBody, "description": "Unknown id, another account's, or a used link."},
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


def _json_only(request: Request) -> None:
    """A pre-session call: only a same-origin script sends JSON (a form cannot)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidInput("send a JSON body (Content-Type: application/json)", field="body")


# -- signing in ---------------------------------------------------------------------------


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
    _json_only(request)
    rt = runtime(request)
    return _signed_in(request, rt.accounts.sign_in(body.email, body.password, _address(request)))


@router.post("/sign-in-link", summary="Whose a one-time sign-in link is (does not use it)")
def sign_in_link(request: Request, body: LinkToken) -> dict[str, str]:
    _json_only(request)
    account = runtime(request).accounts.link_account(body.token)
    return {"email": account.email, "name": account.name}


@router.post("/password", summary="Set the password with a one-time sign-in link, and sign in")
def set_password(request: Request, body: NewPassword) -> JSONResponse:
    _json_only(request)
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


# -- keys ---------------------------------------------------------------------------------


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Limits(BaseModel):
    rate_limit_per_minute: int | None = Field(default=None, ge=0)
    quota_per_day: int | None = Field(default=None, ge=0)


def _key_view(rt: Any, key: ApiKey, today: dict[str, int]) -> dict[str, Any]:
    settings = rt.settings
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "account_id": key.account_id,
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "tasks_today": today.get(key.id, 0),
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "quota_per_day": key.quota_per_day,
        # what applies: the key's own limit, else the server's (0: none)
        "effective_rate_limit_per_minute": (
            settings.rate_limit_per_minute
            if key.rate_limit_per_minute is None
            else key.rate_limit_per_minute
        ),
        "effective_quota_per_day": (
            settings.quota_per_day if key.quota_per_day is None else key.quota_per_day
        ),
    }


def _keys(rt: Any, account_id: str | None) -> list[dict[str, Any]]:
    now = rt.accounts.now()
    today = rt.store.submitted_since(account_id, now - now % 86400)
    return [_key_view(rt, k, today) for k in rt.store.list_keys(account_id)]


def _own_key(rt: Any, s: Session, key_id: str) -> ApiKey:
    key = rt.store.get_key(key_id, s.account.id)
    if key is None:
        raise NotFound(f"no key {key_id!r} in this account")
    return key


@router.get("/keys", summary="This account's API keys (never their secrets)")
def list_keys(request: Request, s: Signed) -> list[dict[str, Any]]:
    return _keys(runtime(request), s.account.id)


@router.post("/keys", status_code=201, summary="Create an API key: its secret is shown once")
def create_key(request: Request, body: NewKey, s: Changing) -> JSONResponse:
    rt = runtime(request)
    key, secret = rt.store.create_key(body.name.strip() or "key", s.account.id)
    base = base_url(request)
    curl = (
        f"curl -X POST {base}/api/couple_image -H 'X-Api-Key: {secret}' "
        "-F maleImage=@him.jpg -F femaleImage=@her.jpg -F prompt='at the beach at sunset'"
    )
    return JSONResponse(
        {"key": _key_view(rt, key, {}), "secret": secret, "curl": curl},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.delete("/keys/{key_id}", summary="Revoke a key: every replica refuses it at once")
def revoke_key(request: Request, key_id: str, s: Changing) -> dict[str, Any]:
    rt = runtime(request)
    _own_key(rt, s, key_id)
    key = rt.store.revoke_key(key_id, s.account.id)
    assert key is not None
    return _key_view(rt, key, {})


@router.get("/keys/{key_id}/webhook-secret", summary="The secret that signs a key's webhooks")
def webhook_secret(request: Request, key_id: str, s: Signed) -> JSONResponse:
    rt = runtime(request)
    key = _own_key(rt, s, key_id)
    return JSONResponse(
        {"webhook_secret": rt.store.webhook_secret(key.id)}, headers={"Cache-Control": "no-store"}
    )


@router.post("/keys/{key_id}/webhook-secret", summary="Rotate a key's webhook signing secret")
def rotate_webhook_secret(request: Request, key_id: str, s: Changing) -> JSONResponse:
    rt = runtime(request)
    key = _own_key(rt, s, key_id)
    return JSONResponse(
        {"webhook_secret": rt.store.rotate_webhook_secret(key.id)},
        headers={"Cache-Control": "no-store"},
    )


# -- usage ----------------------------------------------------------------------------------

Days = Annotated[int, Query(ge=1, le=90, description="days back, today included (UTC)")]
KeyFilter = Annotated[str | None, Query(max_length=32, description="one key's id")]


def _report(request: Request, s: Session, days: int, key: str | None) -> Any:
    rt = runtime(request)
    if key is not None:
        _own_key(rt, s, key)
    return rt.accounts.usage(s.account.id, days=days, key_id=key)


@router.get("/usage", summary="Images per day and key by outcome; wait and run percentiles")
def usage(request: Request, s: Signed, days: Days = 30, key: KeyFilter = None) -> dict:
    return _report(request, s, days, key).as_dict()


@router.get(
    "/usage.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The same numbers as CSV: date, key_id, key_name, completed, failed, canceled",
)
def usage_csv(request: Request, s: Signed, days: Days = 30, key: KeyFilter = None) -> Response:
    return Response(
        _report(request, s, days, key).as_csv(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="twoshot-usage.csv"'},
    )


# -- tasks ----------------------------------------------------------------------------------


def _task_row(task: Task, keys: dict[str, ApiKey]) -> dict[str, Any]:
    quality = task.quality or {}
    key = keys.get(task.api_key_id)
    kept = task.status is TaskStatus.COMPLETED and task.result_key is not None
    return {
        "task_id": task.id,
        "status": task.status.value,
        "kind": task.kind,
        "engine": task.engine,
        "key_id": task.api_key_id,
        "key_name": key.name if key else None,
        "batch_id": task.batch_id,
        "created_at": task.created_at.isoformat(),
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
        "seconds": (
            round((task.finished_at - task.created_at).total_seconds(), 2)
            if task.finished_at
            else None
        ),
        "error_code": task.error.code if task.error else None,
        "identity": [
            {"role": p.get("role"), "found": p.get("found"), "distance": p.get("distance")}
            for p in quality.get("persons", [])
        ],
        "flags": quality.get("flags", []),
        "thumbnail_url": f"/api/account/tasks/{task.id}/thumbnail" if kept else None,
    }


@router.get("/tasks", summary="This account's latest tasks, newest first")
def list_tasks(
    request: Request,
    s: Signed,
    key: KeyFilter = None,
    status: Annotated[TaskStatus | None, Query()] = None,
    before: Annotated[float | None, Query(description="created_at (UNIX s) to page on")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    rt = runtime(request)
    if key is not None:
        _own_key(rt, s, key)
    found = rt.store.account_tasks(
        s.account.id,
        key_id=key,
        status=status.value if status else None,
        before=before,
        limit=limit,
    )
    keys = {k.id: k for k in rt.store.list_keys(s.account.id)}
    more = found[-1].created_at.timestamp() if len(found) == limit else None
    return {"tasks": [_task_row(t, keys) for t in found], "next_before": more}


def _own_task(rt: Any, s: Session, task_id: str) -> Task:
    task = rt.store.account_task(s.account.id, task_id) if len(task_id) <= 64 else None
    if task is None:
        raise NotFound(f"no task {task_id!r} in this account")
    return task


@router.get("/tasks/{task_id}", summary="A task's task-status JSON")
def get_task(request: Request, task_id: str, s: Signed) -> dict[str, Any]:
    rt = runtime(request)
    return task_body(_own_task(rt, s, task_id), base_url(request))


class Thumbnails:
    """Small JPEGs of results, made on first view and kept in a bounded memory cache."""

    def __init__(self, size: int = 256, capacity: int = 512):
        self.size = size
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._capacity = capacity
        self._lock = Lock()

    def get(self, name: str, load: Any) -> bytes | None:
        with self._lock:
            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
        data = load(name)
        if data is None:
            return None
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (self.size, self.size))  # JPEG: decode at a fraction of the size
            small = image.convert("RGB")
            small.thumbnail((self.size, self.size))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=82)
        thumb = out.getvalue()
        with self._lock:
            self._cache[name] = thumb
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return thumb


THUMBNAILS = Thumbnails()


@router.get(
    "/tasks/{task_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorBody}},
    summary="A small JPEG of a task's result, while the result is kept",
)
def thumbnail(request: Request, task_id: str, s: Signed) -> Response:
    rt = runtime(request)
    task = _own_task(rt, s, task_id)
    data = None
    if task.status is TaskStatus.COMPLETED and task.result_key:
        data = THUMBNAILS.get(task.result_key, rt.blobs.get_result)
    if data is None:
        raise NotFound(f"task {task_id!r} has no result to show (not done, or expired)")
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


# -- admin ----------------------------------------------------------------------------------


def _account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "is_admin": account.is_admin,
        "created_at": account.created_at.isoformat(),
        "disabled_at": account.disabled_at.isoformat() if account.disabled_at else None,
        "has_password": account.has_password,
    }


@router.get("/admin/accounts", summary="Admin: every account")
def admin_accounts(request: Request, _s: Admin) -> list[dict[str, Any]]:
    return [_account_view(a) for a in runtime(request).store.list_accounts()]


@router.post("/admin/accounts/{account_id}/disable", summary="Admin: disable an account")
def admin_disable(request: Request, account_id: str, s: AdminChanging) -> dict[str, Any]:
    """Its keys are refused and its sessions end at once, on every replica."""
    if account_id == s.account.id:
        raise InvalidInput("an admin cannot disable their own account", field="account_id")
    return _account_view(runtime(request).accounts.set_disabled(account_id, True))


@router.post("/admin/accounts/{account_id}/enable", summary="Admin: enable an account again")
def admin_enable(request: Request, account_id: str, _s: AdminChanging) -> dict[str, Any]:
    return _account_view(runtime(request).accounts.set_disabled(account_id, False))


@router.get("/admin/keys", summary="Admin: every key, with its account and limits")
def admin_keys(request: Request, _s: Admin) -> list[dict[str, Any]]:
    return _keys(runtime(request), None)


@router.put("/admin/keys/{key_id}/limits", summary="Admin: set a key's rate limit and quota")
def admin_limits(request: Request, key_id: str, body: Limits, _s: AdminChanging) -> dict:
    """``null``: the server's default; 0: no limit."""
    rt = runtime(request)
    key = rt.store.set_key_limits(key_id, body.rate_limit_per_minute, body.quota_per_day)
    if key is None:
        raise NotFound(f"no key {key_id!r}")
    return _key_view(rt, key, {})


@router.get("/admin/queue", summary="Admin: tasks by status and the workers heard from lately")
def admin_queue(request: Request, _s: Admin) -> dict[str, Any]:
    rt = runtime(request)
    now = rt.accounts.now()
    return {
        "tasks": rt.store.count_by_status(),
        "workers": [
            {
                "worker": w.owner,
                "engines": list(w.engines),
                "task_id": w.task_id,
                "first_seen": w.first_seen.isoformat(),
                "last_seen": w.last_seen.isoformat(),
                "seconds_since_seen": round(now - w.last_seen.timestamp(), 1),
            }
            for w in rt.store.list_workers(now - 600)
        ],
    }
