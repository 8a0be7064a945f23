"""One contract for every blob store: the local directory and S3 (a real S3 API server,
moto in server mode on loopback; no mocked client). And the service end to end on S3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, make_settings, photo, start_live, stop_live
from twoshot.blobs import Blobs, LocalBlobs, new_result_name
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
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


def new_bucket(endpoint: str) -> str:
    import boto3

    name = f"twoshot-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Blobs:
    if request.param == "local":
        return LocalBlobs(tmp_path)
    endpoint = request.getfixturevalue("s3_endpoint")
    request.getfixturevalue("aws_env")
    from twoshot.blobs.s3 import S3Blobs

    return S3Blobs.from_url(f"s3://{new_bucket(endpoint)}/some/prefix", endpoint_url=endpoint)


def test_blob_contract(blobs: Blobs) -> None:
    key = "a" * 64
    blobs.put_input(key, b"jpeg bytes")
    blobs.put_input(key, b"jpeg bytes")  # idempotent
    assert blobs.get_input(key) == b"jpeg bytes"
    ages = dict(blobs.input_ages())
    assert list(ages) == [key] and 0 <= ages[key] < 60
    blobs.delete_input(key)
    with pytest.raises(FileNotFoundError):
        blobs.get_input(key)
    assert list(blobs.input_ages()) == []
    name = new_result_name()
    blobs.put_result(name, b"result")
    assert blobs.get_result(name) == b"result"
    blobs.delete_result(name)
    assert blobs.get_result(name) is None
    assert blobs.get_result("../../etc/passwd") is None
    with pytest.raises(ValueError):
        blobs.put_input("../x", b"")


def test_service_on_s3_with_presigned_results(
    tmp_path: Path, s3_endpoint: str, aws_env: None
) -> None:
    bucket = new_bucket(s3_endpoint)
    settings = make_settings(
        tmp_path,
        blob_url=f"s3://{bucket}/prod",
        s3_endpoint_url=s3_endpoint,
        results_presigned=True,
    )
    live = start_live(Runtime.build(settings, checks=NoChecks()))
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=s3_endpoint)

        def keys() -> list[str]:
            return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))

        files = {
            "maleImage": ("m.jpg", photo("obama.jpg")),
            "femaleImage": ("f.jpg", photo("astronaut.jpg")),
        }
        task_id = httpx.post(
            f"{live.url}/api/couple_image", headers=live.headers, files=files
        ).json()["task_id"]
        assert [k.split("/")[1] for k in keys()] == ["inputs", "inputs"]
        live.drain()
        body = httpx.get(f"{live.url}/api/task-status/{task_id}", headers=live.headers).json()
        assert body["status"] == "completed"
        assert [k.split("/")[1] for k in keys()] == ["results"]  # the photos are gone
        redirect = httpx.get(body["image_url"])
        assert redirect.status_code == 307 and redirect.headers["location"].startswith(s3_endpoint)
        image = httpx.get(redirect.headers["location"])
        assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
        assert live.runtime.service.sweep(result_ttl=0.0, input_grace=0.0) == (1, 0)
        assert keys() == []
        assert httpx.get(body["image_url"]).status_code == 404
    finally:
        stop_live(live)
