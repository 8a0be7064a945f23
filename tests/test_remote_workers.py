"""Remote workers over HTTP: worker tokens (not API keys), the whole claim → run → finish
cycle with inputs and results crossing the network, and a worker that loses the network."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Live, make_settings, photo, start_live, stop_live
from tests.engines import SideBySide, Slow
from tests.process import cli, env_for
from twoshot.runtime import Runtime
from twoshot.service import NoChecks
from twoshot.worker import Worker
from twoshot.worker.remote import RemoteQueue


def submit(live: Live) -> str:
    files = {
        "maleImage": ("m.jpg", photo("obama.jpg")),
        "femaleImage": ("f.jpg", photo("astronaut.jpg")),
    }
    return str(
        httpx.post(f"{live.url}/api/couple_image", headers=live.headers, files=files).json()[
            "task_id"
        ]
    )


def status(live: Live, task_id: str) -> dict:
    return httpx.get(f"{live.url}/api/task-status/{task_id}", headers=live.headers).json()


def engine(cls, name: str):  # type: ignore[no-untyped-def]
    e = cls()
    e.name = name
    return e


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    live = start_live(Runtime.build(make_settings(tmp_path, lease_seconds=0.6), checks=NoChecks()))
    yield live
    stop_live(live)


def test_a_remote_worker_runs_tasks_over_http(served: Live) -> None:
    ids = [submit(served) for _ in range(2)]
    _token_id, token = served.runtime.store.create_worker_token("gpu-1")
    remote = RemoteQueue(served.url, token)
    worker = Worker(
        remote, remote, engine(SideBySide, served.runtime.settings.engine), lease_seconds=5
    )
    assert worker.run(burst=True) == 2
    remote.close()
    for task_id in ids:
        body = status(served, task_id)
        assert body["status"] == "completed", body
        assert httpx.get(body["image_url"]).status_code == 200
    assert list(served.runtime.blobs.input_ages()) == []  # the server dropped the inputs


def test_worker_tokens_and_api_keys_do_not_mix(served: Live) -> None:
    task_id = submit(served)
    token_id, token = served.runtime.store.create_worker_token("gpu-2")
    as_key = httpx.get(f"{served.url}/api/task-status/{task_id}", headers={"X-Api-Key": token})
    assert as_key.status_code == 401
    body = {"owner": "w", "engines": [served.runtime.settings.engine]}
    with_key = httpx.post(
        f"{served.url}/worker/claim", headers={"Authorization": f"Bearer {served.key}"}, json=body
    )
    assert with_key.status_code == 401
    served.runtime.store.revoke_worker_token(token_id)
    revoked = httpx.post(
        f"{served.url}/worker/claim", headers={"Authorization": f"Bearer {token}"}, json=body
    )
    assert revoked.status_code == 401
    assert status(served, task_id)["status"] == "queued"


class Unplug(httpx.HTTPTransport):
    """A network that can be cut."""

    cut = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.cut:
            raise httpx.ConnectError("network is down")
        return super().handle_request(request)


def test_a_worker_that_loses_the_network_loses_its_task(
    served: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWOSHOT_TEST_STEPS", "40")
    monkeypatch.setenv("TWOSHOT_TEST_STEP_SECONDS", "0.05")
    task_id = submit(served)
    _id, token = served.runtime.store.create_worker_token("flaky")
    network = Unplug()
    remote = RemoteQueue(served.url, token, transport=network)
    lost = Worker(remote, remote, engine(Slow, served.runtime.settings.engine), lease_seconds=0.6)
    thread = threading.Thread(target=lost.run, kwargs={"burst": True})
    thread.start()
    while status(served, task_id)["status"] != "processing":
        time.sleep(0.02)
    network.cut = True  # mid-task: its heartbeats now fail, its lease runs out
    time.sleep(0.8)
    assert served.drain() == 1  # a local worker takes the task over and finishes it
    thread.join(10)
    body = status(served, task_id)
    assert body["status"] == "completed" and body["attempts"] == 2
    remote.close()


def test_worker_token_cli(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    made = cli(env, "workers", "create-token", "--name", "gpu-pool")
    assert made.returncode == 0 and made.stdout.strip().startswith("tsw_")
    token_id = made.stderr.split("worker token ", 1)[1].split()[0]
    assert cli(env, "workers", "revoke", token_id).returncode == 0
    assert cli(env, "workers", "revoke", token_id).returncode != 0
    nothing = cli(env, "worker", "--server", "http://127.0.0.1:9")
    assert nothing.returncode != 0 and "worker token" in nothing.stderr


def test_with_s3_a_remote_worker_uploads_straight_to_the_bucket(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The claim hands out a presigned PUT URL: the result goes from the worker to the
    bucket (the S3 API server of the blob tests), and the API process only records its name."""
    from tests.test_blobs import new_bucket

    endpoint = request.getfixturevalue("s3_endpoint")
    request.getfixturevalue("aws_env")
    bucket = new_bucket(endpoint)
    settings = make_settings(tmp_path, blob_url=f"s3://{bucket}/x", s3_endpoint_url=endpoint)
    live = start_live(Runtime.build(settings, checks=NoChecks()))
    try:
        task_id = submit(live)
        _id, token = live.runtime.store.create_worker_token("gpu-s3")
        remote = RemoteQueue(live.url, token)
        through_api: list[str] = []
        remote._http.event_hooks["request"].append(
            lambda r: through_api.append(f"{r.method} {r.url.path}")
        )
        worker = Worker(remote, remote, engine(SideBySide, settings.engine), lease_seconds=5)
        assert worker.run(burst=True) == 1
        remote.close()
        assert not [r for r in through_api if r.startswith("PUT /worker/results/")]
        body = status(live, task_id)
        assert body["status"] == "completed"
        name = body["image_url"].rsplit("/", 1)[1]
        import boto3

        obj = boto3.client("s3", endpoint_url=endpoint).get_object(
            Bucket=bucket, Key=f"x/results/{name}"
        )
        assert obj["ContentType"] == "image/jpeg" and obj["Body"].read()[:2] == b"\xff\xd8"
        assert httpx.get(body["image_url"]).status_code == 200
    finally:
        stop_live(live)
