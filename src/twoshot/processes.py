"""``twoshot serve --processes N``: the API in N processes on one port, one per core.

The parent runs the migrations once, binds the port, and starts the children (spawned, so
none inherits the parent's threads or connections), then watches them: a child that dies is
started again, SIGTERM or SIGINT stops them all (each answers its waiting clients and
finishes its requests, as ``twoshot serve`` does), and the parent exits when they have.

- N API processes share the listening socket (the kernel hands each connection to one).
  Each runs the sweeper and webhook threads, but only the holder of the role's lease acts
  (``twoshot.election``): one sweeper per blob store, one webhook sender per database, across
  these processes and any other replica on the same database.
- The task workers (``--workers``) run in one process of their own, so engines load once
  and their work never holds an API process's event loop or interpreter lock.
- SQLite: every process opens the same file in WAL mode with a busy timeout (writers
  queue, readers never wait); a task's end in the worker process wakes clients waiting in
  an API process at once, through the API process's Unix socket (``live.LocalListener``).
  PostgreSQL: LISTEN/NOTIFY.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from twoshot.config import Settings
from twoshot.logs import configure
from twoshot.runtime import Runtime

log = logging.getLogger(__name__)

GRACE = 60.0  # seconds the children get to stop before they are killed (at least)


def run_api(
    rt: Runtime, config: uvicorn.Config, sockets: list[socket.socket] | None = None
) -> None:
    """Serve ``config`` (whose app is ``rt``'s) until SIGTERM/SIGINT, then close ``rt``. The
    app answers its waiting clients on those signals itself (``api.shutdown``)."""
    try:
        # the app's lifespan starts and joins the threads
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        rt.close()


def _api_child(sock: socket.socket, log_level: str) -> None:
    from twoshot.api import create_app
    from twoshot.runtime import Background
    from twoshot.serving import uvicorn_config

    settings = Settings()
    configure(log_level, settings.log_format)
    rt = Runtime.build(settings)
    rt.plan(Background(workers=0, sweeper=True, webhooks=True))
    # the socket is the parent's: host and port are unused here
    config = uvicorn_config(create_app(rt), settings, "", 0, log_level)
    run_api(rt, config, [sock])


def _worker_child(workers: int, log_level: str) -> None:
    from twoshot.runtime import Background, default_evaluator

    settings = Settings()
    configure(log_level, settings.log_format)
    rt = Runtime.build(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        # no HTTP here: no waiting clients to wake, no webhooks, no sweeping
        rt.plan(Background(workers=workers, evaluator=default_evaluator(), listen=False))
        rt.start()
        stop.wait()
    finally:
        rt.close()  # workers finish their task, or hand it back


class Supervisor:
    def __init__(self, host: str, port: int, processes: int, workers: int, log_level: str):
        self._ctx = multiprocessing.get_context("spawn")
        self._sock = uvicorn.Config(app="unused:app", host=host, port=port).bind_socket()
        self._log_level = log_level
        self._roles: list[tuple[str, Any]] = [("api", i) for i in range(processes)]
        if workers:
            self._roles.append(("workers", workers))
        self._children: dict[int, BaseProcess] = {}
        self._stopping = threading.Event()
        # the workers' child finishes or hands back its tasks within the drain, plus 5 s
        self._grace = max(GRACE, Settings().drain_seconds + 10)

    def _start(self, index: int) -> None:
        role, arg = self._roles[index]
        target: Any = _api_child if role == "api" else _worker_child
        args = (self._sock if role == "api" else arg, self._log_level)
        child = self._ctx.Process(target=target, args=args, name=f"twoshot-{role}-{index}")
        child.start()
        self._children[index] = child

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stopping.set())
        for index in range(len(self._roles)):
            self._start(index)
        started = {i: time.monotonic() for i in self._children}
        while not self._stopping.wait(0.5):
            for index, child in list(self._children.items()):
                if child.is_alive():
                    continue
                log.error("%s exited with %s; starting it again", child.name, child.exitcode)
                if time.monotonic() - started[index] < 5:
                    time.sleep(5)  # one that dies at start: not in a tight loop
                self._start(index)
                started[index] = time.monotonic()
        return self._stop()

    def _stop(self) -> int:
        for child in self._children.values():
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._grace
        for child in self._children.values():
            child.join(max(0.0, deadline - time.monotonic()))
            if child.is_alive():
                log.warning("%s did not stop in %.0f s; killing it", child.name, self._grace)
                child.kill()
                child.join(5)
        self._sock.close()
        # uvicorn re-raises the signal it stopped on once it is done: that is a clean stop
        clean = (0, -signal.SIGTERM, -signal.SIGINT)
        failed = [c for c in self._children.values() if c.exitcode not in clean]
        for child in failed:
            log.error("%s ended with %s", child.name, child.exitcode)
        return 1 if failed else 0


def serve_processes(host: str, port: int, processes: int, workers: int, log_level: str) -> int:
    """Run the supervisor until stopped; its exit status (0 when every child stopped well)."""
    from twoshot.store import open_store

    settings = Settings()
    configure(log_level, settings.log_format)
    open_store(settings.resolved_database_url).close()  # migrations, once, before the children
    log.info(
        "serving on http://%s:%d with %d API process(es) and %d worker(s) in their own",
        host,
        port,
        processes,
        workers,
    )
    return Supervisor(host, port, processes, workers, log_level).run()
