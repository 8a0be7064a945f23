"""How a response reaches the socket (``twoshot.serving.Coalesced``): what one connection
writes in one turn of the event loop leaves as one write, in order; a large write is never
held; closing sends what waits; a peer gone meanwhile is written nothing."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest

from tests.conftest import Live, couple_files
from twoshot.serving import HOLD_BYTES, Coalesced


class Socket:
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def writelines(self, chunks: list[bytes]) -> None:  # one vectored write
        self.write(b"".join(chunks))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


async def turn() -> None:
    await asyncio.sleep(0)  # the flush scheduled in this turn runs before we resume
    await asyncio.sleep(0)


def run(test: Any) -> None:
    loop = asyncio.new_event_loop()
    try:
        sock = Socket()
        loop.run_until_complete(test(Coalesced(sock, loop), sock))
    finally:
        loop.close()


def test_a_head_and_body_written_in_one_turn_leave_as_one_write() -> None:
    async def test(out: Coalesced, sock: Socket) -> None:
        out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        out.write(b"{}")
        assert sock.writes == [] and out.get_write_buffer_size() == 40
        await turn()
        assert sock.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        out.write(b"next")  # a later turn's write is a write of its own
        await turn()
        assert sock.writes[1:] == [b"next"]

    run(test)


def test_a_stream_event_leaves_when_the_stream_waits() -> None:
    async def test(out: Coalesced, sock: Socket) -> None:
        out.write(b"head")
        out.write(b"retry: 1000\n\n")
        await asyncio.sleep(0.01)  # a stream waiting for its next event
        assert sock.writes == [b"headretry: 1000\n\n"]

    run(test)


def test_large_writes_are_never_held_and_order_is_kept() -> None:
    async def test(out: Coalesced, sock: Socket) -> None:
        big = b"x" * HOLD_BYTES
        out.write(big)
        assert sock.writes == [big]  # at once
        out.write(b"head")
        out.write(big)  # past the limit with what waits: everything goes now, in order
        assert sock.writes == [big, b"head" + big]
        await turn()
        assert len(sock.writes) == 2  # the scheduled flush finds nothing
        buffer = bytearray(b"reused")
        out.write(buffer)  # copied: the caller may change its buffer before the turn ends
        buffer[:] = b"change"
        with pytest.raises(TypeError, match="bytes-like"):  # told at once, as the socket would
            out.write("text")  # type: ignore[arg-type]
        await turn()
        assert sock.writes[2:] == [b"reused"]

    run(test)


def test_writelines_and_eof_keep_the_order() -> None:
    async def test(out: Coalesced, sock: Socket) -> None:
        out.write(b"head ")
        out.writelines([b"a", b"b"])
        sock.write_eof = lambda: sock.writes.append(b"EOF")  # type: ignore[attr-defined]
        out.write_eof()
        assert sock.writes == [b"head ab", b"EOF"]

    run(test)


def test_close_sends_what_waits_first_and_abort_drops_it() -> None:
    async def test(out: Coalesced, sock: Socket) -> None:
        out.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        out.close()
        assert sock.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and sock.closed
        await turn()
        assert len(sock.writes) == 1

    run(test)

    async def aborted(out: Coalesced, sock: Socket) -> None:
        out.write(b"unsent")
        out.abort()
        await turn()
        assert sock.writes == [] and sock.aborted

    run(aborted)


def test_a_peer_gone_before_the_flush_is_written_nothing() -> None:
    async def test(out: Coalesced, sock: Socket) -> None:
        out.write(b"late")
        sock.closed = True  # connection_lost meanwhile
        await turn()  # no error raised in the loop's callback, nothing written
        assert sock.writes == []
        assert out.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the socket's

    run(test)


def test_a_client_that_shuts_its_side_after_the_request_still_gets_the_answer(live: Live) -> None:
    """``nc -N`` and some probes send a request, then a FIN: the transport closes once the EOF
    is seen, so a poll's answer held for the end of the turn must be written before that."""
    r = httpx.post(f"{live.url}/api/couple_image", headers=live.headers, files=couple_files())
    task_id = r.json()["task_id"]
    host, port = live.url.removeprefix("http://").split(":")
    request = (
        f"GET /api/task-status/{task_id} HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {live.key}\r\n\r\n"
    )
    for _ in range(20):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(request.encode())
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["task_id"] == task_id
