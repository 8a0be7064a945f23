"""An account's usage: images per day and key, as JSON and as CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from twoshot.api.account.keys import own_key
from twoshot.api.account.session import Session, Signed, account_router
from twoshot.api.deps import runtime

router = account_router()

Days = Annotated[int, Query(ge=1, le=90, description="days back, today included (UTC)")]
KeyFilter = Annotated[str | None, Query(max_length=32, description="one key's id")]


def _report(request: Request, s: Session, days: int, key: str | None) -> Any:
    rt = runtime(request)
    if key is not None:
        own_key(rt, s, key)
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
