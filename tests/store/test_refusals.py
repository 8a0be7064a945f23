"""Content-policy refusals per key, day and code, on both databases: counted by racing
threads without a lost update, a withheld result counted in the transaction that fails its
task (and only by the finish that ended it), read per account."""

from __future__ import annotations

import threading

from tests.store.test_contract import Clock, task
from twoshot.domain import ErrorInfo, TaskStatus
from twoshot.store import SqlStore

DAY = 86400


def test_racing_refusals_are_all_counted(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    key = store.create_key("k")[0].id
    day = int(clock.now // DAY)
    start = threading.Barrier(8)

    def refuse(code: str) -> None:
        start.wait()
        for _ in range(5):
            store.count_refusal(key, code, day)

    codes = ["prompt_refused"] * 6 + ["apparent_minor"] * 2
    threads = [threading.Thread(target=refuse, args=(c,)) for c in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = {(r.api_key_id, r.status): r.count for r in store.refusals(None, day)}
    assert rows == {(key, "prompt_refused"): 30, (key, "apparent_minor"): 10}


def test_a_withheld_result_is_counted_once_with_its_failure(
    backend: tuple[SqlStore, Clock],
) -> None:
    store, clock = backend
    a = store.create_account("a@example.com")
    b = store.create_account("b@example.com")
    ka, kb = store.create_key("a", a.id)[0].id, store.create_key("b", b.id)[0].id
    day = int(clock.now // DAY)
    store.submit([task(ka, 1), task(kb, 2)], None, "{}")
    unsafe = ErrorInfo("unsafe_content", "withheld")
    for owner in ("w1", "w2"):
        claimed = store.claim(owner, ["e"], 30)
        assert claimed is not None
        error = unsafe if claimed.api_key_id == ka else ErrorInfo("engine_error", "boom")
        assert store.finish(claimed.id, owner, TaskStatus.FAILED, error=error)
        # a second finish of the same task (a stale worker) ends nothing and counts nothing
        assert not store.finish(claimed.id, owner, TaskStatus.FAILED, error=error)
    assert [(r.api_key_id, r.status, r.count) for r in store.refusals(a.id, day)] == [
        (ka, "unsafe_content", 1)
    ]
    assert store.refusals(b.id, day) == []  # an engine error is no refusal
    assert {(r.status, r.count) for r in store.usage(a.id, day)} == {("failed", 1)}
