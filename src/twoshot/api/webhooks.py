"""The webhook signing secret of the caller's key: made with the key, only read here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from twoshot.api.deps import api_key, runtime
from twoshot.api.views import ERRORS
from twoshot.domain import ApiKey

router = APIRouter(prefix="/api", responses=ERRORS)


@router.get("/webhook-secret", tags=["webhooks"], summary="The secret that signs your webhooks")
def webhook_secret(request: Request, key: Annotated[ApiKey, Depends(api_key)]) -> dict:
    """Verify each delivery's ``webhook-signature`` with it (any Standard Webhooks library)."""
    return {"webhook_secret": runtime(request).dashboard.webhook_secret(key.id)}
