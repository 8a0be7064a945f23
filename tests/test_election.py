"""Roles elected through lease rows (``twoshot.election``)."""

from __future__ import annotations

from pathlib import Path

from twoshot.election import Lease
from twoshot.store import open_store


def test_a_stopping_process_keeps_its_role_but_takes_up_none(tmp_path: Path) -> None:
    """Was: a process between SIGTERM and its threads' stop took the sweeper's role that
    another stopping process had just released, and the role moved once more for nothing
    (seen as two 'now plays this role' lines in a two-process shutdown)."""
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        stopping = False
        first = Lease(store, "sweeper", "first", 30.0)
        second = Lease(store, "sweeper", "second", 30.0, stopping=lambda: stopping)
        assert first.held() and not second.held()
        stopping = True
        first.release()
        second._next = 0.0  # its next look is due now
        assert not second.held()  # on its way out: the free role stays free
        stopping = False
        assert second.held()
        stopping = True
        second._next = 0.0
        assert second.held()  # a role it holds it keeps renewing until it releases it
    finally:
        store.close()
