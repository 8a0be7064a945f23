"""Tiny loopback HTTP servers for tests: a static directory, a redirector, a canary."""

from __future__ import annotations

import functools
import http.server
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serve(
    handler: type[http.server.BaseHTTPRequestHandler] | functools.partial, host: str = "127.0.0.1"
) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer((host, 0), handler)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_directory(root: Path, host: str = "127.0.0.1") -> Iterator[str]:
    with _serve(functools.partial(_Quiet, directory=str(root)), host) as url:
        yield url


@contextmanager
def redirector(target: str, host: str = "127.0.0.1") -> Iterator[str]:
    """Answers every GET with a 302 to ``target``."""

    class Redirect(_Quiet):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()

    with _serve(Redirect, host) as url:
        yield url


class Canary:
    """A TCP listener that counts every connection it receives."""

    def __init__(self, host: str = "127.0.0.1"):
        self.hits = 0
        self._sock = socket.socket()
        self._sock.bind((host, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


__all__ = ["Canary", "redirector", "serve_directory", "socketserver"]
