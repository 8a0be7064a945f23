from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from twoshot.api import create_app
from twoshot.config import Settings
from twoshot.runtime import Runtime
from twoshot.service import NoChecks
from twoshot.serving import uvicorn_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def photo(name: str) -> bytes:
    return (DATA / name).read_bytes()


def couple_files(male: str = "obama.jpg", female: str = "astronaut.jpg") -> dict:
    """The multipart files of a couple submission."""
    return {
        "maleImage": ("m.jpg", photo(male), "image/jpeg"),
        "femaleImage": ("f.jpg", photo(female), "image/jpeg"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """A real uvicorn server on a real port, in a thread of the test process, configured as
    ``twoshot serve`` configures it."""

    url: str
    runtime: Runtime
    key: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.key}

    def new_key(self, name: str = "other") -> str:
        return self.runtime.store.create_key(name)[1]

    def drain(self) -> int:
        """Run every queued task to the end with a burst worker of the first engine."""
        from twoshot.engines import load_engine

        engine = load_engine(self.runtime.settings.engine, self.runtime.settings)
        worker = self.runtime.make_worker(engine)
        return worker.run(burst=True)


def start_live(runtime: Runtime) -> Live:
    port = free_port()
    # as ``twoshot serve`` runs it: its protocol (header deadline, coalesced writes) included
    config = uvicorn_config(create_app(runtime), runtime.settings, "127.0.0.1", port, "warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    key = runtime.store.create_key("test")[1]
    return Live(f"http://127.0.0.1:{port}", runtime, key, server, thread)


def stop_live(live: Live) -> None:
    live.server.should_exit = True
    live.thread.join(10)
    live.runtime.close()


@contextmanager
def working_server(runtime: Runtime, engine_name: str | None = None) -> Iterator[Live]:
    """A live server plus one worker thread with the real identity evaluator."""
    from twoshot.engines import load_engine
    from twoshot.runtime import default_evaluator

    server = start_live(runtime)
    name = engine_name or runtime.settings.engine
    worker = runtime.make_worker(load_engine(name, runtime.settings), default_evaluator())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        worker.stop()
        thread.join(10)
        stop_live(server)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict = {
        "data_dir": tmp_path / "data",
        "engine": "tests.engines:sidebyside",
        "fetch_allow_private": True,
        "poll_interval": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """API on a real port, no face checks, the side-by-side fixture engine, no workers:
    tests call ``live.drain()`` to run the queue."""
    server = start_live(Runtime.build(make_settings(tmp_path), checks=NoChecks()))
    yield server
    stop_live(server)


@pytest.fixture
def image_server() -> Iterator[str]:
    """The test photos over HTTP on a loopback port (for URL inputs and batches)."""
    from tests.servers import serve_directory

    with serve_directory(DATA) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 API server (moto in server mode) on a loopback port: no mocked client."""
    pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
