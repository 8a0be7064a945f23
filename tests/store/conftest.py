"""The fixtures of every store test: the store on SQLite and on PostgreSQL, with its clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.test_contract import Clock, opened_store
from twoshot.store import SqlStore


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlStore, Clock]]:
    with opened_store(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def store(backend: tuple[SqlStore, Clock]) -> SqlStore:
    return backend[0]
