"""/metrics is the operator's: on its own port, behind a token, or for this machine only."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.testclient import TestClient

from tests.conftest import free_port, make_settings
from tests.process import Server, env_for
from twoshot.api import create_app
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


def client(tmp_path: Path, **settings: object) -> TestClient:
    rt = Runtime.build(make_settings(tmp_path, **settings), checks=NoChecks())
    return TestClient(create_app(rt))  # its client address is "testclient": not this machine


def test_by_default_only_a_client_on_this_machine_gets_metrics(tmp_path: Path) -> None:
    with client(tmp_path) as app:
        refused = app.get("/metrics")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "metrics_forbidden"
    assert "twoshot_" not in refused.text


def test_a_metrics_token(tmp_path: Path) -> None:
    with client(tmp_path, metrics_token="s3cret-scrape") as app:
        assert app.get("/metrics").status_code == 401
        wrong = app.get("/metrics", headers={"Authorization": "Bearer s3cret-scrapf"})
        assert wrong.status_code == 401
        ok = app.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert ok.status_code == 200 and "twoshot_tasks" in ok.text


def test_metrics_on_their_own_port(tmp_path: Path) -> None:
    port = free_port()
    server = Server(
        env_for(tmp_path, TWOSHOT_METRICS_PORT=str(port)), tmp_path / "serve.log", "--workers", "0"
    )
    try:
        on_api = httpx.get(f"{server.url}/metrics")
        own = httpx.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.stop()
    assert on_api.status_code == 404 and "twoshot_" not in on_api.text
    assert own.status_code == 200 and "twoshot_tasks" in own.text
