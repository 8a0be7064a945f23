"""Who is waiting on which task, and waking them when it changes: the machinery behind
``Prefer: wait`` and the task-status event stream.

- In this process, anything that changes a task (a task that ends, through the store's end
  hook; a worker thread's progress) calls ``TaskEvents.publish`` from whatever thread it runs
  on; waiters are asyncio events on the server's loop, so a waiting client holds no thread
  and no worker, only its connection.
- Across processes, on PostgreSQL, ``PgNotifier`` (the store's end and progress hooks) sends
  ``NOTIFY twoshot_tasks, '<id>'`` after the commit that ended a task or recorded its
  progress, and ``PgListener`` (a thread of each API process) publishes each notification
  as it arrives.
- Across processes on one SQLite file (``twoshot serve --processes N``, a ``twoshot worker``
  beside ``twoshot serve``), the same hooks call ``LocalNotifier``: a datagram of task ids to
  the Unix socket of every ``LocalListener`` in a folder beside the database file
  (``twoshot.live_sqlite``).
- A waiter watches before it reads, so a change that lands between its read and its wait
  still wakes it; it also re-reads on a bounded interval, so a missed notification (a full
  socket, a listener reconnecting) costs latency, never an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "twoshot_tasks"


class Watch:
    """One waiter's wake-up call, for the tasks it watches."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when something changed, False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class TaskEvents:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._watches: dict[str, set[Watch]] = {}
        # from this process's workers, ahead of the DB: (claim, fraction) of watched tasks only
        self._progress: dict[str, tuple[int, float]] = {}
        self.closing = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, task_ids: Iterable[str]) -> None:
        """Any thread: these tasks changed."""
        with self._lock:
            watches = [w for i in task_ids for w in self._watches.get(i, ())]
        self._wake(watches)

    def wake_all(self) -> None:
        """Any thread: anything may have changed (notifications were missed); all re-read."""
        with self._lock:
            watches = [w for ws in self._watches.values() for w in ws]
        self._wake(watches)

    def close(self) -> None:
        """Any thread: the server is shutting down. Every waiter wakes and answers with what it
        has (the queued answer; the end of its event stream), so no connection holds the
        shutdown up; clients resume elsewhere."""
        self.closing = True
        self.wake_all()

    def close_soon(self) -> None:
        """``close`` for a signal handler: it runs on whatever this thread was doing, maybe
        inside ``_lock``, so it takes no lock; the loop wakes every waiter next."""
        self.closing = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.wake_all)

    def _wake(self, watches: list[Watch]) -> None:
        """From any thread: wake these waiters on the server's loop."""
        loop = self._loop
        if watches and loop is not None and not loop.is_closed():
            # the loop may close meanwhile: then nobody waits any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake_all, watches)

    def progress(self, task_id: str, claim: int, fraction: float) -> None:
        """A worker of this process reports progress of its ``claim`` of a task (the store
        hears of it later). Kept only while someone watches the task."""
        with self._lock:
            if task_id in self._watches:
                self._progress[task_id] = (claim, fraction)
        self.publish([task_id])

    def ended(self, task_ids: Iterable[str]) -> None:
        ids = list(task_ids)
        with self._lock:
            for i in ids:
                self._progress.pop(i, None)
        self.publish(ids)

    def latest_progress(self, task_id: str, claim: int) -> float | None:
        """The freshest progress of this claim of the task, if a worker here runs it."""
        with self._lock:
            local = self._progress.get(task_id)
        return local[1] if local is not None and local[0] == claim else None

    @contextmanager
    def watch(self, task_ids: Iterable[str]) -> Iterator[Watch]:
        """On the event loop: a ``Watch`` woken whenever one of these tasks changes. Watch
        first, then read: a change that lands after the read still wakes the watch."""
        ids = list(task_ids)
        w = Watch()
        with self._lock:
            for i in ids:
                self._watches.setdefault(i, set()).add(w)
        try:
            yield w
        finally:
            with self._lock:
                for i in ids:
                    bucket = self._watches.get(i)
                    if bucket is not None:
                        bucket.discard(w)
                        if not bucket:
                            del self._watches[i]
                            self._progress.pop(i, None)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len({id(w) for ws in self._watches.values() for w in ws})


def _wake_all(watches: list[Watch]) -> None:
    for w in watches:
        w.wake()


# libpq keepalives: a listening connection whose peer vanished fails within ~30 s
_KEEPALIVE: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class PgListener:
    """``LISTEN twoshot_tasks`` on a connection of its own; each notification's payload (a
    task id) is published the moment it arrives. Every ``check_every`` seconds without one
    the connection is checked with a query; when it fails, or the database goes away, it
    reconnects with backoff and wakes every waiter (notifications may have been missed)."""

    def __init__(
        self, conninfo: str, events: TaskEvents, stop: threading.Event, check_every: float = 5.0
    ):
        self._conninfo = conninfo
        self._events = events
        self._stop = stop
        self._check_every = check_every
        self.connected = threading.Event()

    def run(self) -> None:
        import psycopg

        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, **_KEEPALIVE) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    self._events.wake_all()  # what changed while nobody listened
                    delay = 0.5
                    self._listen(conn)
            except Exception as exc:  # the database restarted, or is not there yet
                self.connected.clear()
                log.warning(
                    "task notifications: %s; listening again in %.1f s", type(exc).__name__, delay
                )
                self._stop.wait(delay)
                delay = min(10.0, delay * 2)

    def _listen(self, conn: Any) -> None:
        quiet_since = time.monotonic()
        while not self._stop.is_set():
            # the generator yields each notification as it arrives; the timeout only bounds
            # how long a stop request waits
            for note in conn.notifies(timeout=min(1.0, self._check_every)):
                self._events.publish([note.payload])
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since >= self._check_every:
                conn.execute("SELECT 1")  # the health check: raises if the link is gone
                quiet_since = time.monotonic()


class PgNotifier:
    """Tells every API process that tasks changed: ``NOTIFY`` on a connection of its own,
    called by the store's end and progress hooks after their commit (the store itself knows
    nothing of the channel). A lost connection is opened again once per call."""

    def __init__(self, conninfo: str):
        self._conninfo = conninfo
        self._conn: Any = None
        self._lock = threading.Lock()

    def __call__(self, task_ids: Sequence[str]) -> None:
        import psycopg

        if not task_ids:
            return
        with self._lock:
            for retry in (False, True):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(self._conninfo, autocommit=True, **_KEEPALIVE)
                    self._conn.execute(
                        "SELECT pg_notify(%s, x) FROM unnest(%s::text[]) AS x",
                        (CHANNEL, list(task_ids)),
                    )
                    return
                except psycopg.OperationalError:
                    self._close()
                    if retry:
                        raise

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()


def conninfo_from_url(url: str) -> str:
    """A libpq URL for psycopg from the SQLAlchemy URL (``postgresql+psycopg://…``)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
