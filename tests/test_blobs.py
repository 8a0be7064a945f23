"""One contract for every blob store: the local directory and S3 (a real S3 API server,
moto in server mode on loopback; no mocked client). And the service end to end on S3."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import couple_files, make_settings, start_live, stop_live
from twoshot.blobs import Blobs, LocalBlobs, new_result_name
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


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
    results = dict(blobs.result_ages())
    assert list(results) == [name] and 0 <= results[name] < 60
    blobs.delete_result(name)
    assert list(blobs.result_ages()) == []
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

        files = couple_files()
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


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_result_left_by_a_failed_finish_is_swept(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A worker uploads its result, then its finish fails (the database restarting): the
    task runs again elsewhere, and the first upload is a file no task points to. The
    sweeper deletes it after the grace period, and nothing that is referenced."""
    from twoshot.engines import load_engine
    from twoshot.worker import Worker

    extra: dict = {}
    if where == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        request.getfixturevalue("aws_env")
        extra = {"blob_url": f"s3://{new_bucket(endpoint)}/p", "s3_endpoint_url": endpoint}
    rt = Runtime.build(make_settings(tmp_path, **extra), checks=NoChecks())
    live = start_live(rt)
    try:
        files = couple_files()
        task_id = httpx.post(
            f"{live.url}/api/couple_image", headers=live.headers, files=files
        ).json()["task_id"]

        class FinishFails:
            """The store, but the database goes away at the finish."""

            def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
                return getattr(rt.store, name)

            def finish(self, *args: object, **kwargs: object) -> bool:
                raise ConnectionError("the database is restarting")

        engine = load_engine(rt.settings.engine, rt.settings)
        doomed = Worker(FinishFails(), rt.blobs, engine, lease_seconds=0.5)  # type: ignore[arg-type]
        with pytest.raises(ConnectionError):
            doomed.run_once()
        [orphan] = [n for n, _ in rt.blobs.result_ages()]
        import time

        time.sleep(0.6)  # its lease runs out; another worker runs the task again
        assert live.drain() == 1
        body = httpx.get(f"{live.url}/api/task-status/{task_id}", headers=live.headers).json()
        assert body["status"] == "completed" and orphan not in body["image_url"]
        assert len(list(rt.blobs.result_ages())) == 2
        # young files are left alone (they may be in flight)
        assert rt.service.sweep(result_ttl=3600, input_grace=3600, orphan_grace=3600) == (0, 0)
        assert rt.service.sweep(result_ttl=3600, input_grace=3600, orphan_grace=0) == (1, 0)
        assert [n for n, _ in rt.blobs.result_ages()] == [body["image_url"].rsplit("/", 1)[1]]
        assert rt.blobs.get_result(orphan) is None
        assert httpx.get(body["image_url"]).status_code == 200
    finally:
        stop_live(live)
