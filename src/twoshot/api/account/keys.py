"""An account's API keys and their webhook signing secrets."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from twoshot.api.account.session import Changing, Session, Signed, account_router
from twoshot.api.deps import base_url, runtime
from twoshot.domain import ApiKey

router = account_router()


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)


def key_view(rt: Any, key: ApiKey, today: dict[str, int]) -> dict[str, Any]:
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


def keys_view(rt: Any, account_id: str | None) -> list[dict[str, Any]]:
    keys, today = rt.dashboard.keys(account_id)
    return [key_view(rt, k, today) for k in keys]


def own_key(rt: Any, s: Session, key_id: str) -> ApiKey:
    return rt.dashboard.own_key(s.account.id, key_id)


@router.get("/keys", summary="This account's API keys (never their secrets)")
def list_keys(request: Request, s: Signed) -> list[dict[str, Any]]:
    return keys_view(runtime(request), s.account.id)


@router.post("/keys", status_code=201, summary="Create an API key: its secret is shown once")
def create_key(request: Request, body: NewKey, s: Changing) -> JSONResponse:
    rt = runtime(request)
    key, secret = rt.dashboard.create_key(s.account.id, body.name)
    base = base_url(request)
    curl = (
        f"curl -X POST {base}/api/couple_image -H 'X-Api-Key: {secret}' "
        "-F maleImage=@him.jpg -F femaleImage=@her.jpg -F prompt='at the beach at sunset'"
    )
    return JSONResponse(
        {"key": key_view(rt, key, {}), "secret": secret, "curl": curl},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.delete("/keys/{key_id}", summary="Revoke a key: every replica refuses it at once")
def revoke_key(request: Request, key_id: str, s: Changing) -> dict[str, Any]:
    rt = runtime(request)
    return key_view(rt, rt.dashboard.revoke_key(s.account.id, key_id), {})


@router.get("/keys/{key_id}/webhook-secret", summary="The secret that signs a key's webhooks")
def webhook_secret(request: Request, key_id: str, s: Signed) -> JSONResponse:
    rt = runtime(request)
    key = own_key(rt, s, key_id)
    return JSONResponse(
        {"webhook_secret": rt.dashboard.webhook_secret(key.id)},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/keys/{key_id}/webhook-secret", summary="Rotate a key's webhook signing secret")
def rotate_webhook_secret(request: Request, key_id: str, s: Changing) -> JSONResponse:
    rt = runtime(request)
    key = own_key(rt, s, key_id)
    return JSONResponse(
        {"webhook_secret": rt.dashboard.webhook_secret(key.id, rotate=True)},
        headers={"Cache-Control": "no-store"},
    )
