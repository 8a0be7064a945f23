"""Leases on roles (``store.take_lease``): of many processes asking at once, exactly one plays
the role; it keeps it while it renews, loses it when it expires, and lets it go at once."""

from __future__ import annotations

import threading

from tests.store.test_contract import Clock
from twoshot.election import Lease
from twoshot.store.sql import SqlStore


def test_one_of_many_racing_threads_takes_the_lease(backend: tuple[SqlStore, Clock]) -> None:
    store_, clock = backend
    start = threading.Barrier(8)
    won: list[str] = []

    def ask(owner: str) -> None:
        start.wait()
        if store_.take_lease("sweeper:x", owner, 30):
            won.append(owner)

    threads = [threading.Thread(target=ask, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    holder = won[0]
    assert store_.lease_owner("sweeper:x") == holder
    other = "p0" if holder != "p0" else "p1"
    assert store_.take_lease("sweeper:x", holder, 30)  # renewed
    clock.now += 29
    assert not store_.take_lease("sweeper:x", other, 30)  # still the holder's
    assert store_.take_lease("webhooks", other, 30)  # another role is another lease
    clock.now += 2
    assert store_.take_lease("sweeper:x", other, 30)  # expired: taken over
    assert not store_.take_lease("sweeper:x", holder, 30)
    store_.release_lease("sweeper:x", holder)  # not its own any more: nothing happens
    assert store_.lease_owner("sweeper:x") == other
    store_.release_lease("sweeper:x", other)
    assert store_.lease_owner("sweeper:x") is None
    assert store_.take_lease("sweeper:x", holder, 30)


def test_lease_renews_every_third_and_lets_go(store: SqlStore) -> None:
    now = [0.0]
    first = Lease(store, "role", "a", 30, clock=lambda: now[0])
    second = Lease(store, "role", "b", 30, clock=lambda: now[0])
    assert first.held() and not second.held()
    now[0] = 9  # neither asks the database again before a third of the lease has passed
    assert first.held() and not second.held()
    first.release()
    assert not first.held()  # let go, and not taken again before its next renewal time
    now[0] = 10
    assert second.held()
    assert store.lease_owner("role") == "b"
