"""The verify route's per-address limit and its turns, on SQLite and PostgreSQL: counted in
the database, so two apps (two replicas) share one count."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import make_settings
from tests.store.test_contract import postgres_schema
from twoshot.api import create_app
from twoshot.api.verify import Turns
from twoshot.errors import RateLimited
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    with postgres_schema() as url:
        yield url


def test_two_replicas_share_one_verify_count(database_url: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        apps = []
        for n in range(2):
            settings = make_settings(
                tmp_path / f"r{n}", database_url=database_url, verify_per_minute=3
            )
            rt = Runtime.build(settings, checks=NoChecks())
            stack.callback(rt.close)
            apps.append(stack.enter_context(TestClient(create_app(rt))))
        codes = [
            apps[n % 2].post("/api/verify", files={"image": ("x", b"junk")}).status_code
            for n in range(5)
        ]
    assert codes == [400, 400, 400, 429, 429]  # counted before the picture is read


def test_turns_let_two_through_and_refuse_after_the_wait() -> None:
    turns = Turns(2)

    async def hold(seconds: float) -> str:
        async with turns.turn(wait=0.3):
            await asyncio.sleep(seconds)
            return "ran"

    async def race() -> list[object]:
        return await asyncio.gather(hold(0.5), hold(0.5), hold(0.0), return_exceptions=True)

    first, second, third = asyncio.run(race())
    assert (first, second) == ("ran", "ran")
    assert isinstance(third, RateLimited) and third.code == "busy"

    async def waits_for_a_turn() -> list[object]:
        return await asyncio.gather(hold(0.1), hold(0.1), hold(0.0))

    assert asyncio.run(waits_for_a_turn()) == ["ran", "ran", "ran"]  # freed within its wait
