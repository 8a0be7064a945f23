"""``POST /api/verify``: does a picture say it was made by a machine? For anyone, no key.

It reads the picture's Content Credentials (C2PA) and looks for twoshot's invisible
watermark, which survives the loss of the metadata (a picture re-saved by a messaging app).
Limited per client address, since each check costs CPU (``TWOSHOT_VERIFY_PER_MINUTE``).
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from twoshot.api.deps import runtime
from twoshot.api.views import ERRORS
from twoshot.errors import RateLimited
from twoshot.images import Limits
from twoshot.provenance import verify

router = APIRouter(prefix="/api", tags=["provenance"], responses=ERRORS)


class ManifestBody(BaseModel):
    present: bool
    valid: bool
    trusted: bool
    state: str | None
    digital_source_type: str | None
    generator: str | None
    software_agent: str | None
    created: str | None
    signer: str | None
    issuer: str | None
    failures: list[str]


class WatermarkBody(BaseModel):
    found: bool
    confidence: float
    score: float
    payload_intact: bool
    ai_generated: bool | None
    composite: bool | None
    server_id: int | None


class VerifyBody(BaseModel):
    marked: bool
    manifest: ManifestBody
    watermark: WatermarkBody


class PerAddress:
    """A fixed-window count per client address, in this process (each replica counts its
    own: with N replicas an address gets up to N times the limit)."""

    def __init__(self, per_minute: int, clock: Any = time.monotonic):
        self._limit = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def take(self, address: str) -> None:
        if not self._limit:
            return
        now = self._clock()
        window = int(now // 60)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            self._counts[address] = self._counts.get(address, 0) + 1
            count = self._counts[address]
        if count > self._limit:
            raise RateLimited(
                f"at most {self._limit} verifications a minute from one address; try again soon",
                retry_after=int(60 - now % 60) + 1,
            )


def _limiter(request: Request) -> PerAddress:
    app_state = request.app.state
    limiter = getattr(app_state, "verify_limiter", None)
    if limiter is None:
        limiter = app_state.verify_limiter = PerAddress(runtime(request).settings.verify_per_minute)
    return limiter


@router.post(
    "/verify",
    response_model=VerifyBody,
    summary="Check a picture for Content Credentials and the invisible watermark (no key)",
)
async def verify_image(request: Request, image: Annotated[UploadFile, File()]) -> dict:
    """``marked`` is true when the picture carries a valid manifest or the watermark.
    ``manifest.trusted`` needs the signer's root among the server's trust anchors
    (``TWOSHOT_C2PA_TRUST_ANCHORS``); a development certificate is valid but untrusted."""
    _limiter(request).take(request.client.host if request.client else "unknown")
    settings = runtime(request).settings
    data = await image.read(settings.max_upload_bytes + 1)  # one byte over: a clear 413
    anchors = settings.c2pa_trust_anchors
    verdict = await run_in_threadpool(
        verify,
        data,
        limits=Limits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels),
        field="image",
        trust_anchors=anchors.read_bytes() if anchors else None,
        watermark_key=settings.watermark_key,
    )
    return verdict.as_dict()
