"""The one counter behind every limit, on SQLite and PostgreSQL: raised and checked by one
statement, so requests at once cannot all see room (real threads race it)."""

from __future__ import annotations

import threading

from tests.store.test_contract import Clock
from twoshot.store import Hit, SqlStore


def test_counts_within_limits_and_refuses_whole(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    minute = Hit("key:a", "m:1", clock.now + 60, limit=5, n=2)
    day = Hit("key:a", "d:1", clock.now + 86400, limit=7, n=2)
    assert store.count([minute, day]) is None
    assert store.count([minute, day]) is None
    assert (store.counted("key:a", "m:1"), store.counted("key:a", "d:1")) == (4, 4)
    # 6 > 5: refused, and the day's hit, counted before it, is rolled back with it
    assert store.count([day, minute]) == minute
    assert (store.counted("key:a", "m:1"), store.counted("key:a", "d:1")) == (4, 4)
    assert store.count([Hit("key:a", "m:1", clock.now + 60, limit=5, n=1)]) is None
    assert store.count([Hit("key:b", "m:1", clock.now + 60, limit=1, n=2)]) is not None
    assert store.counted("key:b", "m:1") == 0  # over the limit at its first count
    store.uncount([Hit("key:a", "m:1", clock.now + 60, n=3)])
    assert store.counted("key:a", "m:1") == 2
    store.uncount([Hit("key:a", "m:1", clock.now + 60, n=9)])
    assert store.counted("key:a", "m:1") == 0  # never below zero
    assert store.count([Hit("free", "m:1", clock.now + 60, n=1000)]) is None  # no limit
    store.clear_count("free")
    assert store.counted("free", "m:1") == 0


def test_expired_windows_are_swept(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    store.count([Hit("x", "m:1", clock.now + 60)])
    clock.now += 61
    store.count([Hit("y", "m:2", clock.now + 60)])
    assert store.counted("x", "m:1") == 0 and store.counted("y", "m:2") == 1


def test_concurrent_hits_never_pass_the_limit(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def hit() -> None:
        start.wait()
        for _ in range(3):
            ok = store.count([Hit("race", "m:1", clock.now + 60, limit=10)]) is None
            with lock:
                admitted.append(ok)

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 48 and admitted.count(True) == 10
    assert store.counted("race", "m:1") == 10
