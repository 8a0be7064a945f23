"""Task notifications between the processes on one SQLite file (``twoshot serve
--processes N``, or a ``twoshot worker`` beside ``twoshot serve``): what PostgreSQL's
LISTEN/NOTIFY does for ``twoshot.live``, through Unix datagram sockets in a folder beside
the database file. The store's end and progress hooks call ``LocalNotifier``; each API
process's ``LocalListener`` publishes what it hears to its ``TaskEvents``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from twoshot.live import TaskEvents

log = logging.getLogger(__name__)

SMALL = 8_000  # bytes of task ids in one datagram; more wakes every waiter instead
WAKE_ALL = b"*"
SOCKET_PATH = 107  # bytes a Unix socket's path may hold on Linux (sun_path, less its NUL)


def local_folder(database_url: str) -> Path | None:
    """Where the processes on one SQLite file meet: ``.<file>.live/`` beside it, or, when
    that is too long a path for a Unix socket, a folder in the temporary directory named
    after the file's path; None for a database in memory."""
    from sqlalchemy.engine import make_url

    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        log.warning("task notifications between processes are off for a file: URI database")
        return None
    path = Path(database).resolve()
    for folder in (
        path.parent / f".{path.name}.live",
        Path(tempfile.gettempdir()) / f"twoshot-{hashlib.sha256(bytes(path)).hexdigest()[:16]}",
    ):
        if len(bytes(folder / f"{2**22}-{'0' * 16}.sock")) <= SOCKET_PATH:
            return folder
    log.warning(
        "task notifications between processes are off: no folder for a Unix socket; waiters "
        "in other processes see a task end at their next re-read"
    )
    return None


def _private(folder: Path) -> bool:
    """The folder is a real folder (not a link) of this user that nobody else may enter:
    one planted in a shared temporary directory is never used. False if it is not there."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


class LocalNotifier:
    """Tells the other processes on this SQLite file that tasks changed: a datagram of their
    ids (or, past ``SMALL`` bytes, of ``WAKE_ALL``) to every listener's socket in ``folder``,
    this process's own excepted (its waiters were woken in memory).

    Each listener gets a sending socket of its own: a datagram that waits in a slow
    listener's queue counts against its sender's buffer, which must not silence the others.
    A socket that nobody holds (its process was killed) is removed; a listener too busy to
    take a datagram misses it and re-reads on its interval."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.own: LocalListener | None = None  # this process's listener, when it has one
        self._senders: dict[str, socket.socket] = {}
        self._lock = threading.Lock()
        self._warned = False

    def __call__(self, task_ids: Sequence[str]) -> None:
        if not task_ids:
            return
        try:
            if not _private(self.folder):
                return  # nobody listens yet
            targets = [e.path for e in os.scandir(self.folder) if e.name.endswith(".sock")]
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("task notifications: cannot read %s: %s", self.folder, exc)
            return
        payload = "\n".join(task_ids).encode()
        payload = payload if len(payload) <= SMALL else WAKE_ALL
        own = str(self.own.path) if self.own is not None else None
        with self._lock:
            for target in targets:
                if target != own:
                    self._send(target, payload)
            for gone in set(self._senders) - set(targets):
                self._senders.pop(gone).close()

    def _send(self, target: str, payload: bytes) -> None:
        sender = self._senders.get(target)
        if sender is None:
            sender = self._senders[target] = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.setblocking(False)
        try:
            sender.sendto(payload, target)
        except (ConnectionRefusedError, FileNotFoundError):
            self._senders.pop(target).close()
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.lstat(target).st_mode):
                    os.unlink(target)  # its process is gone
        except OSError:  # its queue is full: its re-read covers it
            pass

    def close(self) -> None:
        with self._lock:
            for sender in self._senders.values():
                sender.close()
            self._senders.clear()


class LocalListener:
    """A Unix datagram socket in ``folder`` (``<pid>-<random>.sock``) whose datagrams of task
    ids are published the moment they arrive. A socket file that disappears (a cleaner of
    the temporary directory) is bound again, and every waiter woken. Removed, and the folder
    with it when empty, once ``stop`` is set."""

    CHECK_EVERY = 5.0  # seconds between looks at its own socket file

    def __init__(self, folder: Path, events: TaskEvents, stop: threading.Event):
        self.folder = folder
        self._events = events
        self._stop = stop
        self._sock, self.path, self._inode = self._bind()

    def _bind(self) -> tuple[socket.socket, Path, int]:
        for attempt in range(2):  # a listener leaving may remove the empty folder meanwhile
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _private(self.folder):
                raise PermissionError(f"{self.folder} is not a private folder of this user")
            path = self.folder / f"{os.getpid()}-{secrets.token_hex(8)}.sock"
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(str(path))
                sock.settimeout(0.5)  # how long a stop waits
                return sock, path, os.lstat(path).st_ino
            except FileNotFoundError:
                sock.close()
                if attempt:
                    raise
            except BaseException:
                sock.close()
                raise
        raise AssertionError("unreachable")

    def run(self) -> None:
        checked = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    data = self._sock.recv(SMALL + 1024)
                except TimeoutError:
                    if time.monotonic() - checked >= self.CHECK_EVERY:
                        checked = time.monotonic()
                        self._bind_again_if_gone()
                    continue
                if data == WAKE_ALL:
                    self._events.wake_all()
                    continue
                ids = [i for i in data.decode(errors="replace").split("\n") if i]
                if ids:
                    self._events.publish(ids)
        finally:
            self._sock.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # when no other listener is left in it

    def wake(self) -> None:
        """Return from the wait at once (after ``stop`` is set: the thread then ends)."""
        with (
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as poke,
            contextlib.suppress(OSError),
        ):
            poke.sendto(b"", str(self.path))

    def _bind_again_if_gone(self) -> None:
        try:
            if os.lstat(self.path).st_ino == self._inode:
                return
        except FileNotFoundError:
            pass
        try:
            old, (self._sock, self.path, self._inode) = self._sock, self._bind()
        except OSError as exc:
            log.warning("task notifications: cannot bind a socket in %s: %s", self.folder, exc)
            return
        old.close()
        log.warning("task notifications: the socket file was removed; bound %s", self.path)
        self._events.wake_all()  # what was sent to the old one meanwhile
