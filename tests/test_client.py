"""The Python client (sync and async) and the CLI's couple / person / status against a live
server with a worker running."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import DATA, Live, make_settings, working_server
from tests.process import cli, env_for
from twoshot.client import ApiError, AsyncClient, Client
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


@pytest.fixture
def working(tmp_path: Path) -> Iterator[Live]:
    """The fixture engine, with the real evaluator, behind a live server."""
    with working_server(Runtime.build(make_settings(tmp_path), checks=NoChecks())) as server:
        yield server


def test_sync_client(working: Live) -> None:
    with Client(working.url, working.key) as c:
        task_id = c.couple(DATA / "obama.jpg", DATA / "astronaut.jpg", prompt="beach", seed=3)
        updates = []
        result = c.wait(task_id, poll=0.05, on_update=updates.append)
        assert result.status == "completed" and updates[-1] is not None
        image = Image.open(io.BytesIO(c.download(result)))
        assert image.size == (1024, 1024)
        assert [p["role"] for p in result.quality["persons"]] == ["male", "female"]  # type: ignore[index]
        with pytest.raises(ApiError) as err:
            c.couple(DATA / "obama.jpg", b"not an image")
        assert (
            err.value.status == 400
            and err.value.code == "invalid_image"
            and err.value.field == "femaleImage"
        )
        c.delete(task_id)
        with pytest.raises(ApiError) as err:
            c.status(task_id)
        assert err.value.code == "not_found"


def test_async_client(working: Live) -> None:
    async def go() -> None:
        async with AsyncClient(working.url, working.key) as c:
            task_id = await c.person(
                [(DATA / "obama.jpg").read_bytes()], prompt="park", width=512, height=512
            )
            result = await c.wait(task_id, poll=0.05)
            assert result.status == "completed"
            assert Image.open(io.BytesIO(await c.download(result))).size == (512, 512)

    asyncio.run(go())


def test_cli_couple_person_status(working: Live, tmp_path: Path) -> None:
    env = env_for(tmp_path / "unused", TWOSHOT_API_KEY=working.key)
    out = tmp_path / "couple.jpg"
    run = cli(
        env,
        "couple",
        "--male",
        str(DATA / "obama.jpg"),
        "--female",
        str(DATA / "astronaut.jpg"),
        "--prompt",
        "sunset",
        "--size",
        "768x512",
        "--server",
        working.url,
        "-o",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    with Image.open(out) as image:
        assert image.size == (768, 512)
    assert "completed" in run.stderr and "100%" in run.stderr
    assert "identity" in run.stderr and "male" in run.stderr and "female" in run.stderr
    task_id = run.stderr.split("task ", 1)[1].split()[0]
    shown = cli(env, "status", task_id, "--server", working.url)
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "completed"

    person = cli(
        env,
        "person",
        str(DATA / "obama.jpg"),
        str(DATA / "obama2.jpg"),
        "--prompt",
        "studio",
        "--server",
        working.url,
        "-o",
        str(tmp_path / "p.jpg"),
    )
    assert person.returncode == 0, person.stderr

    bad = cli(
        env,
        "couple",
        "--male",
        str(DATA / "README.md"),
        "--female",
        str(DATA / "obama.jpg"),
        "--server",
        working.url,
    )
    assert bad.returncode != 0 and "invalid_image" in bad.stderr
    nokey = cli(
        {k: v for k, v in env.items() if k != "TWOSHOT_API_KEY"},
        "status",
        "x",
        "--server",
        working.url,
    )
    assert nokey.returncode != 0 and "TWOSHOT_API_KEY" in nokey.stderr
