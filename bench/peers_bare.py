"""The bare peer of ``bench/peers.py``: a standalone Starlette app, outside the project (it
imports nothing of twoshot), whose routes answer with the bytes twoshot answered, read from
the files named by PEER_STATUS, PEER_BATCH, PEER_EVENTS (an ended task's stream: answered
whole with a length, as twoshot answers it) and PEER_LIVE (the first events of a queued
task's stream, streamed, after which it stays open, as twoshot's does, until the client goes).

    uvicorn peers_bare:app --loop uvloop --http httptools
"""

from __future__ import annotations

import asyncio
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
LIVE = Path(os.environ["PEER_LIVE"]).read_bytes().split(b"\n\n")[:-1]


async def status(_request: Request) -> Response:
    return Response(STATUS, media_type="application/json")


async def batch(_request: Request) -> Response:
    return Response(BATCH, media_type="application/json")


def stream(chunks: list[bytes], *, stay_open: bool = False) -> StreamingResponse:
    async def chunked() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk + b"\n\n"
        if stay_open:
            await asyncio.sleep(3600)  # until the client disconnects

    return StreamingResponse(
        chunked(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def events(_request: Request) -> Response:
    # a stream that has ended holds all its events: twoshot answers it whole, and so does this
    return Response(
        b"".join(chunk + b"\n\n" for chunk in EVENTS),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def live(_request: Request) -> StreamingResponse:
    return stream(LIVE, stay_open=True)


app = Starlette(
    routes=[
        Route("/status/{task_id}", status),
        Route("/batch/{task_id}", batch),
        Route("/events/{task_id}", events),
        Route("/live/{task_id}", live),
    ]
)
