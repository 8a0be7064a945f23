"""``POST /api/verify``: does a picture say it was made by a machine? For anyone, no key.

It reads the picture's Content Credentials (C2PA) and looks for twoshot's invisible
watermark, which survives the loss of the metadata (a picture re-saved by a messaging app).
What one client can cost is bounded three ways: the picture is read reduced (at most
4 MP, a JPEG reduced while it is decoded; ``twoshot.provenance.verify``), at most
``TWOSHOT_VERIFY_CONCURRENCY`` verifies run at once in a process (the rest wait
``TWOSHOT_VERIFY_WAIT`` seconds, then 429 ``busy``), and each address gets
``TWOSHOT_VERIFY_PER_MINUTE``, counted in the database so replicas share it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from twoshot.api.deps import client_address, runtime
from twoshot.api.views import ERRORS
from twoshot.errors import RateLimited
from twoshot.images import Limits
from twoshot.runtime import Runtime
from twoshot.store import Hit

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
    signer_fingerprint: str | None
    signed_by: str | None


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
    signed_by_trusted_signer: bool
    signed_by_this_server: bool
    manifest: ManifestBody
    watermark: WatermarkBody


class Turns:
    """At most ``size`` verifies at once in this process; the others wait up to ``wait``
    seconds for a turn, on the event loop (holding no thread), then get 429 ``busy``."""

    def __init__(self, size: int):
        self._free = threading.Semaphore(size)

    @asynccontextmanager
    async def turn(self, wait: float) -> AsyncIterator[None]:
        deadline = time.monotonic() + wait
        pause = 0.01
        while not self._free.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise RateLimited(
                    "the server is checking other pictures; try again in a few seconds",
                    code="busy",
                    retry_after=2,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
        try:
            yield
        finally:
            self._free.release()


def _turns(request: Request) -> Turns:
    state = request.app.state
    turns = getattr(state, "verify_turns", None)
    if turns is None:
        turns = state.verify_turns = Turns(runtime(request).settings.verify_concurrency)
    return turns


def _count(rt: Runtime, address: str) -> None:
    """One more verify from ``address`` this minute, counted in the database (every
    replica shares the count), or 429."""
    limit = rt.settings.verify_per_minute
    if not limit:
        return
    now = time.time()
    minute = int(now // 60)
    hit = Hit(f"verify:addr:{address[:200]}", f"m:{minute}", (minute + 2) * 60.0, limit)
    if rt.service.count([hit]) is not None:
        raise RateLimited(
            f"at most {limit} verifications a minute from one address; try again soon",
            retry_after=int(60 - now % 60) + 1,
        )


@router.post(
    "/verify",
    response_model=VerifyBody,
    summary="Check a picture for Content Credentials and the invisible watermark (no key)",
)
async def verify_image(request: Request, image: Annotated[UploadFile, File()]) -> dict:
    """Two separate answers (README: Provenance says what each field proves):

    - ``marked``: a mark says the picture was made by a machine (a valid manifest by any
      signer, or this installation's watermark). Anyone can make such a manifest.
    - ``signed_by_trusted_signer``: the manifest is signed by this server's own signer
      (``signed_by_this_server``) or by one that chains to ``TWOSHOT_C2PA_TRUST_ANCHORS``."""
    rt = runtime(request)
    await run_in_threadpool(_count, rt, client_address(request))
    settings = rt.settings
    limits = Limits(max_bytes=settings.max_upload_bytes, max_pixels=settings.verify_max_pixels)
    data = await image.read(settings.max_upload_bytes + 1)  # one byte over: a clear 413
    anchors = settings.c2pa_trust_anchors
    async with _turns(request).turn(settings.verify_wait):
        verdict = await run_in_threadpool(
            partial(
                rt.provenance.verify,
                limits=limits,
                field="image",
                trust_anchors=anchors.read_bytes() if anchors else None,
            ),
            data,
        )
    return verdict.as_dict()
