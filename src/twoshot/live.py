"""Who is waiting on which task, and waking them when it changes: the machinery behind
``Prefer: wait`` and the task-status event stream.

- In this process, anything that changes a task (a task that ends, through the store's end
  hook; a worker thread's progress) calls ``TaskEvents.publish`` from whatever thread it runs
  on; waiters are asyncio events on the server's loop, so a waiting client holds no thread
  and no worker, only its connection.
- Across processes, on PostgreSQL, the store sends ``NOTIFY twoshot_tasks, '<id>'`` in the
  transaction that ends a task or records its progress, and ``PgListener`` (a thread of each
  API process) publishes what it hears.
- Waiters also re-read the task on a bounded interval, so a missed notification (another
  process on SQLite, a listener reconnecting) costs latency, never an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

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
        self._progress: dict[str, float] = {}  # from this process's workers, ahead of the DB
        self.closing = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, task_ids: Iterable[str]) -> None:
        """Any thread: these tasks changed."""
        with self._lock:
            watches = [w for i in task_ids for w in self._watches.get(i, ())]
        self._wake(watches)

    def close(self) -> None:
        """Any thread: the server is shutting down. Every waiter wakes and answers with what it
        has (the queued answer; the end of its event stream), so no connection holds the
        shutdown up; clients resume elsewhere."""
        self.closing = True
        with self._lock:
            watches = [w for ws in self._watches.values() for w in ws]
        self._wake(watches)

    def _wake(self, watches: list[Watch]) -> None:
        """From any thread: wake these waiters on the server's loop."""
        loop = self._loop
        if watches and loop is not None and not loop.is_closed():
            # the loop may close meanwhile: then nobody waits any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake_all, watches)

    def progress(self, task_id: str, fraction: float) -> None:
        """A worker of this process reports progress (the store hears of it later)."""
        with self._lock:
            self._progress[task_id] = fraction
        self.publish([task_id])

    def ended(self, task_ids: Iterable[str]) -> None:
        ids = list(task_ids)
        with self._lock:
            for i in ids:
                self._progress.pop(i, None)
        self.publish(ids)

    def latest_progress(self, task_id: str) -> float | None:
        with self._lock:
            return self._progress.get(task_id)

    @contextmanager
    def watch(self, task_ids: Iterable[str]) -> Iterator[Watch]:
        """On the event loop: a ``Watch`` woken whenever one of these tasks changes."""
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

    @property
    def waiting(self) -> int:
        with self._lock:
            return len({id(w) for ws in self._watches.values() for w in ws})


def _wake_all(watches: list[Watch]) -> None:
    for w in watches:
        w.wake()


class PgListener:
    """``LISTEN twoshot_tasks`` on a connection of its own; each notification's payload (a
    task id) is published. Reconnects with backoff when the database goes away."""

    def __init__(self, conninfo: str, events: TaskEvents, stop: threading.Event):
        self._conninfo = conninfo
        self._events = events
        self._stop = stop
        self.connected = threading.Event()

    def run(self) -> None:
        import psycopg

        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        ids = [n.payload for n in conn.notifies(timeout=0.5)]
                        if ids:
                            self._events.publish(ids)
            except Exception as exc:  # the database restarted, or is not there yet
                self.connected.clear()
                log.warning(
                    "task notifications: %s; listening again in %.1f s", type(exc).__name__, delay
                )
                self._stop.wait(delay)
                delay = min(10.0, delay * 2)


def conninfo_from_url(url: str) -> str:
    """A libpq URL for psycopg from the SQLAlchemy URL (``postgresql+psycopg://…``)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
