"""One process plays a role (the retention sweeper, the webhook sender) among all the API
processes and replicas that share the database: the one holding the role's lease row
(``Store.take_lease``), renewed while it lives, taken over by another once it expires.

Every process runs the role's thread; each pass first asks ``Lease.held()``, which renews
(or tries to take) the lease at most every third of its length, so a process that died
hands the role on within one lease length, and a process that stops lets it go at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from twoshot.store import Store

log = logging.getLogger(__name__)


def process_name() -> str:
    """This process, as a lease owner: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        store: Store,
        name: str,
        owner: str,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        stopping: Callable[[], bool] = lambda: False,
    ):
        """``stopping``: true once this process is on its way out; it then keeps a role it
        holds until it releases it, but takes up none (a role taken in the last moments of
        a shutdown only moves once more)."""
        self.name = name
        self.owner = owner
        self._store = store
        self._seconds = seconds
        self._clock = clock
        self._held = False
        self._next = 0.0
        self._stopping = stopping

    def held(self) -> bool:
        """Whether this process plays the role now (renewing the lease when due)."""
        now = self._clock()
        if now < self._next or (not self._held and self._stopping()):
            return self._held
        try:
            held = self._store.take_lease(self.name, self.owner, self._seconds)
        except Exception:  # the database is away: play it safe, do not act
            log.exception("could not renew the %s lease", self.name)
            held = False
        if held != self._held:
            log.info(
                "%s %s (lease %s)",
                self.owner,
                "now plays this role" if held else "no longer plays this role",
                self.name,
            )
        self._held = held
        # renew well before it expires; a renewal that fails stops the role on the next pass
        self._next = now + self._seconds / 3
        return held

    def release(self) -> None:
        if self._held:
            self._held = False
            try:
                self._store.release_lease(self.name, self.owner)
            except Exception:
                log.exception("could not release the %s lease", self.name)
