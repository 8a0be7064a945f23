"""The bare peer of ``bench/peers.py``: a standalone Starlette app, outside the project (it
imports nothing of twoshot), whose routes answer with the bytes twoshot answered, read from
the files named by PEER_STATUS, PEER_BATCH and PEER_EVENTS.

    uvicorn peers_bare:app --loop uvloop --http httptools
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

STATUS = Path(os.environ["PEER_STATUS"]).read_bytes()
BATCH = Path(os.environ["PEER_BATCH"]).read_bytes()
EVENTS = Path(os.environ["PEER_EVENTS"]).read_bytes().split(b"\n\n")[:-1]  # its chunks


async def status(_request: Request) -> Response:
    return Response(STATUS, media_type="application/json")


async def batch(_request: Request) -> Response:
    return Response(BATCH, media_type="application/json")


async def events(_request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in EVENTS:
            yield chunk + b"\n\n"

    return StreamingResponse(
        chunks(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


app = Starlette(
    routes=[
        Route("/status/{task_id}", status),
        Route("/batch/{task_id}", batch),
        Route("/events/{task_id}", events),
    ]
)
