"""Admin only: every account and key, per-key limits, the queue and the workers, and the
content policy's refusals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

from twoshot.api.account.keys import key_view, keys_view
from twoshot.api.account.session import Admin, AdminChanging, account_router
from twoshot.api.deps import runtime
from twoshot.domain import Account

router = account_router()


class KeyLimits(BaseModel):
    rate_limit_per_minute: int | None = Field(default=None, ge=0)
    quota_per_day: int | None = Field(default=None, ge=0)


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
    return [_account_view(a) for a in runtime(request).dashboard.accounts()]


@router.post("/admin/accounts/{account_id}/disable", summary="Admin: disable an account")
def admin_disable(request: Request, account_id: str, s: AdminChanging) -> dict[str, Any]:
    """Its keys are refused and its sessions end at once, on every replica."""
    accounts = runtime(request).accounts
    return _account_view(accounts.set_disabled(account_id, True, by=s.account.id))


@router.post("/admin/accounts/{account_id}/enable", summary="Admin: enable an account again")
def admin_enable(request: Request, account_id: str, _s: AdminChanging) -> dict[str, Any]:
    return _account_view(runtime(request).accounts.set_disabled(account_id, False))


@router.get("/admin/keys", summary="Admin: every key, with its account and limits")
def admin_keys(request: Request, _s: Admin) -> list[dict[str, Any]]:
    return keys_view(runtime(request), None)


@router.put("/admin/keys/{key_id}/limits", summary="Admin: set a key's rate limit and quota")
def admin_limits(request: Request, key_id: str, body: KeyLimits, _s: AdminChanging) -> dict:
    """``null``: the server's default; 0: no limit."""
    rt = runtime(request)
    key = rt.dashboard.set_key_limits(key_id, body.rate_limit_per_minute, body.quota_per_day)
    return key_view(rt, key, {})


@router.get("/admin/queue", summary="Admin: tasks by status and the workers heard from lately")
def admin_queue(request: Request, _s: Admin) -> dict[str, Any]:
    rt = runtime(request)
    now = rt.accounts.now()
    return {
        "tasks": rt.dashboard.queue(),
        "workers": [
            {
                "worker": w.owner,
                "engines": list(w.engines),
                "task_id": w.task_id,
                "first_seen": w.first_seen.isoformat(),
                "last_seen": w.last_seen.isoformat(),
                "seconds_since_seen": round(now - w.last_seen.timestamp(), 1),
            }
            for w in rt.dashboard.workers()
        ],
    }


@router.get(
    "/admin/refusals", summary="Admin: content-policy refusals per day and code, all accounts"
)
def admin_refusals(
    request: Request,
    _s: Admin,
    days: Annotated[int, Query(ge=1, le=90, description="days back, today included")] = 30,
) -> dict[str, Any]:
    rt = runtime(request)
    report = rt.accounts.usage(None, days=days)
    totals = report.refusal_totals()
    return {
        "policy": rt.policy.describe(),
        "days": [{"date": d, **t} for d, t in zip(report.days, totals, strict=True)],
        "keys": {
            k.id: {"name": k.name, "account_id": k.account_id}
            for k in report.keys
            if any(k.id in day for day in report.refusals)
        },
        "by_key": [
            {"date": d, "key_id": key_id, **codes}
            for d, day in zip(report.days, report.refusals, strict=True)
            for key_id, codes in sorted(day.items())
        ],
    }
