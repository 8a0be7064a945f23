"""How ``twoshot serve`` runs uvicorn: which proxies may name the client, how long a client
may take to send its request's head, how large that head may be, how many connections one
process holds, and how a response reaches the socket.

uvicorn has no header-read timeout of its own (its keep-alive timer starts only after a
first response), so a client could open connections and send their headers a byte at a
time for as long as it liked. ``deadline_protocol`` wraps uvicorn's HTTP protocol: from the
moment a connection opens, or a previous response ends, the next request's head must be
complete within ``header_timeout`` seconds and ``max_header_bytes`` bytes, or the
connection is closed. A reverse proxy in front (README: Security) does this better still.

uvicorn writes a response's head and its body to the socket separately: two ``send`` system
calls for every small response, and a system call costs more than the rest of a task-status
poll's Python (bench/RESULTS.md). ``Coalesced`` hands the socket what a connection writes in
one turn of the event loop as one write: a poll's head and body leave in one call. A stream's
events still leave at once (the turn ends when the stream waits), and a write of 64 KiB or
more is never held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from twoshot.config import Settings

try:  # uvicorn's "auto" choice
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Fast

    BASE: type[Any] = _Fast
except ImportError:  # pragma: no cover - httptools is a dependency of uvicorn[standard]
    BASE = H11Protocol


HOLD_BYTES = 64 << 10  # what one write may hold back; past it, everything goes now


class Coalesced:
    """A transport whose small writes wait for the end of the event loop's turn, then go to
    ``transport`` as one write. Everything else is ``transport``'s; ``close`` sends what
    waits first."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            if not isinstance(data, bytearray | memoryview):  # as the socket's own write
                raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
            data = bytes(data)  # the caller may reuse its buffer before the turn ends
        if self._held_bytes + len(data) >= HOLD_BYTES:  # past what may wait: all goes now
            held = self._take()
            if held:
                self._transport.writelines([*held, data])  # one vectored write, no copy
            else:
                self._transport.write(data)
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._held_bytes += len(data)

    def _take(self) -> list[bytes]:
        held, self._held, self._held_bytes = self._held, [], 0
        return held

    def flush(self) -> None:
        held = self._take()
        if held and not self._transport.is_closing():  # the peer may have gone meanwhile
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._transport.close()

    def abort(self) -> None:
        self._take()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._held_bytes + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, set_protocol, …
        return getattr(self._transport, name)


def deadline_protocol(base: type[Any], header_timeout: float, max_header_bytes: int) -> type:
    class Deadline(base):
        _deadline: asyncio.TimerHandle | None = None
        _due = 0.0  # when the head waited for must be complete (the loop's clock)
        _waiting_for: object = None  # the cycle in place when the wait began
        _head_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            # what the connection writes (uvicorn's flow control watches the transport)
            self.transport = Coalesced(transport, self.loop)
            self._start(None)

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                super().data_received(data)  # a request's body
                return
            if cycle is not self._waiting_for or self._deadline is None:
                self._start(cycle)  # the first bytes of the next request's head
            self._head_bytes += len(data)
            super().data_received(data)
            # a chunk may hold the head's end and the body's start: judge only an open head
            if self.cycle is cycle and self._head_bytes > max_header_bytes:
                self.transport.close()

        def eof_received(self) -> bool | None:
            # the client sent its request and shut its side: the transport closes once this
            # returns, so what the response wrote this turn must reach it first
            self.transport.flush()
            return super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _start(self, cycle: object) -> None:
            # a request on a kept-alive connection only moves the due time: the timer, set
            # once, looks again when it fires (no timer made and cancelled per request)
            self._waiting_for, self._head_bytes = cycle, 0
            self._due = self.loop.time() + header_timeout
            if self._deadline is None:
                self._deadline = self.loop.call_at(self._due, self._late)

        def _late(self) -> None:
            self._deadline = None
            if self.cycle is not self._waiting_for or self.transport.is_closing():
                return  # the head came (a new request is under way), or the connection ends
            if self.loop.time() < self._due:  # a later wait began since this timer was set
                self._deadline = self.loop.call_at(self._due, self._late)
            else:
                self.transport.close()

    Deadline.__name__ = f"Deadline{base.__name__}"
    return Deadline


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, log_level: str) -> Any:
    proxies = settings.trusted_proxy_list
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        http=deadline_protocol(BASE, settings.header_timeout, settings.max_header_bytes),
        # X-Forwarded-For and -Proto count only from these addresses; by default from none,
        # so the client address is the connection's and a header cannot change it
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or "",
        limit_concurrency=settings.max_connections or None,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=5,
    )
