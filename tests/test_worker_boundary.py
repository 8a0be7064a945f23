"""The boundary with remote workers validates what they send, and retention survives a bad
row (issue #20). Each test is named after a defect it reproduces on d4ba9d6."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from starlette.testclient import TestClient

from tests.conftest import Live, make_settings, start_live, stop_live
from tests.engines import Failing
from tests.store.test_contract import task
from twoshot.api import create_app
from twoshot.blobs import is_result_name, new_result_name
from twoshot.domain import TaskStatus
from twoshot.runtime import Runtime
from twoshot.service import NoChecks
from twoshot.worker import Worker
from twoshot.worker.remote import RemoteQueue

Served = tuple[Runtime, TestClient]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    rt = Runtime.build(make_settings(tmp_path, max_lease_seconds=120), checks=NoChecks())
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield rt, client


def token(rt: Runtime, name: str = "gpu") -> dict[str, str]:
    return {"Authorization": f"Bearer {rt.store.create_worker_token(name)[1]}"}


def queued(rt: Runtime, n: int) -> str:
    key_id = rt.store.create_key(f"k{n}")[0].id
    rt.store.submit([task(key_id, n)], None, "{}")
    return f"t{n:04d}"


def claim(client: TestClient, headers: dict[str, str], owner: str = "w1", **extra: object) -> dict:
    r = client.post(
        "/worker/claim", headers=headers, json={"owner": owner, "engines": ["e"], **extra}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def finish(client: TestClient, headers: dict[str, str], task_id: str, **body: object) -> int:
    """A finish from worker ``w1``; its status code."""
    r = client.post(
        f"/worker/tasks/{task_id}/finish", headers=headers, json={"owner": "w1", **body}
    )
    return r.status_code


def completed_elsewhere(rt: Runtime, n: int, data: bytes = b"theirs") -> str:
    """A task of another worker, completed with a result file: a name to covet."""
    task_id = queued(rt, n)
    claimed = rt.store.claim("local", ["e"], 60)
    assert claimed is not None and claimed.id == task_id
    name = new_result_name()
    rt.blobs.put_result(name, data)
    assert rt.store.finish(task_id, "local", TaskStatus.COMPLETED, result_key=name)
    return name


def test_worker_cannot_overwrite_or_delete_another_tasks_result(served: Served) -> None:
    """Was: any worker token could PUT over, or DELETE, any result name."""
    rt, client = served
    theirs = completed_elsewhere(rt, 1)
    headers = token(rt)
    put = client.put(f"/worker/results/{theirs}", headers=headers, content=b"overwritten")
    assert put.status_code == 404
    assert client.delete(f"/worker/results/{theirs}", headers=headers).status_code == 404
    assert rt.blobs.get_result(theirs) == b"theirs"


def test_finish_with_another_tasks_result_name_is_refused(served: Served) -> None:
    """Was: ``finish`` stored any ``result_key``: a worker could point its task at another
    task's image (here it even crashed on the unique index: 500)."""
    rt, client = served
    theirs = completed_elsewhere(rt, 1)
    mine = queued(rt, 2)
    headers = token(rt)
    assert claim(client, headers)["task"]["id"] == mine
    assert finish(client, headers, mine, status="completed", result_key=theirs) == 400
    assert rt.store.get_task(mine).status is TaskStatus.PROCESSING  # type: ignore[union-attr]


def test_result_names_are_matched_in_full_so_a_trailing_newline_is_refused(
    served: Served,
) -> None:
    """Was: ``$`` let ``<name>.jpg\\n`` through; such a row was never swept."""
    rt, client = served
    bad = "A" * 32 + ".jpg\n"
    assert not is_result_name(bad) and is_result_name(bad[:-1])
    mine = queued(rt, 1)
    headers = token(rt)
    claim(client, headers)
    assert finish(client, headers, mine, status="completed", result_key=bad) == 400
    assert rt.store.get_task(mine).result_key is None  # type: ignore[union-attr]


def test_worker_lease_is_clamped_to_the_servers_maximum(served: Served) -> None:
    """Was: ``lease_seconds`` had no bound (a claim held its task until 2036)."""
    rt, client = served
    mine = queued(rt, 1)
    headers = token(rt)
    before = time.time()
    claim(client, headers, lease_seconds=2e9)
    held = rt.store.get_task(mine).lease_expires_at  # type: ignore[union-attr]
    assert held is not None and held.timestamp() <= before + 120 + 5
    beat = client.post(
        f"/worker/tasks/{mine}/heartbeat",
        headers=headers,
        json={"owner": "w1", "lease_seconds": 1e12},
    )
    assert beat.status_code == 200 and beat.json()["ours"]
    held = rt.store.get_task(mine).lease_expires_at  # type: ignore[union-attr]
    assert held is not None and held.timestamp() <= time.time() + 120 + 5
    assert (
        client.post(
            "/worker/claim",
            headers=headers,
            json={"owner": "w1", "engines": ["e"], "lease_seconds": -1},
        ).status_code
        == 400
    )


def test_finish_error_without_a_code_is_400_not_500(served: Served) -> None:
    rt, client = served
    mine = queued(rt, 1)
    headers = token(rt)
    claim(client, headers)
    assert finish(client, headers, mine, status="failed", error={"message": "no code"}) == 400
    assert rt.store.get_task(mine).status is TaskStatus.PROCESSING  # type: ignore[union-attr]


def ended_with(rt: Runtime, n: int, result_key: str) -> str:
    task_id = queued(rt, n)
    assert rt.store.claim("local", ["e"], 60) is not None
    assert rt.store.finish(task_id, "local", TaskStatus.COMPLETED, result_key=result_key)
    return task_id


def test_sweep_sets_aside_a_bad_result_row_and_goes_on(served: Served) -> None:
    """Was: the sweep met a row whose name local storage refuses, raised, and (with no
    ORDER BY) met it first on every run: nothing expired was ever deleted again."""
    rt, _client = served
    bad = ended_with(rt, 1, "../../etc/passwd")  # an old row from before names were checked
    good_name = new_result_name()
    rt.blobs.put_result(good_name, b"x")
    good = ended_with(rt, 2, good_name)
    assert rt.service.sweep(result_ttl=-1, input_grace=3600) == (1, 0)
    assert rt.blobs.get_result(good_name) is None
    for task_id in (bad, good):
        assert rt.store.get_task(task_id).result_key is None  # type: ignore[union-attr]
    assert rt.service.sweep(result_ttl=-1, input_grace=3600) == (0, 0)


def test_deleting_a_task_with_a_bad_result_name_answers_204_not_500(served: Served) -> None:
    rt, client = served
    task_id = ended_with(rt, 1, "../../etc/passwd")
    key = rt.store.get_task(task_id).api_key_id  # type: ignore[union-attr]
    secret = rt.store.create_key("owner")  # the task's key's secret is not kept: re-own it
    from sqlalchemy import update

    from twoshot.store.schema import tasks

    with rt.store._engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(api_key_id=secret[0].id))
    assert key != secret[0].id
    r = client.delete(f"/api/task/{task_id}", headers={"X-Api-Key": secret[1]})
    assert r.status_code == 204
    assert rt.store.get_task(task_id) is None


@pytest.fixture
def s3_served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Live]:
    from tests.test_blobs import new_bucket

    endpoint = request.getfixturevalue("s3_endpoint")
    request.getfixturevalue("aws_env")
    settings = make_settings(
        tmp_path, blob_url=f"s3://{new_bucket(endpoint)}/x", s3_endpoint_url=endpoint
    )
    live = start_live(Runtime.build(settings, checks=NoChecks()))
    yield live
    stop_live(live)


def test_presigned_upload_url_is_minted_per_upload_not_at_claim(s3_served: Live) -> None:
    """Was: the claim carried a URL that expired after max(600 s, 10 leases) while
    heartbeats kept the lease alive: a longer run lost its result."""
    rt = s3_served.runtime
    mine = queued(rt, 1)
    remote = RemoteQueue(s3_served.url, rt.store.create_worker_token("gpu")[1])
    answers: list[dict] = []
    remote._http.event_hooks["response"].append(
        lambda r: answers.append(r.read() and r.json()) if r.url.path == "/worker/claim" else None
    )
    claimed = remote.claim("w1", ["e"], 5)
    assert claimed is not None and claimed.id == mine
    assert "upload" not in answers[0]  # nothing to expire while the task runs
    time.sleep(1.1)
    asked = datetime.now(UTC).replace(microsecond=0)
    name = remote.result_name(mine, "w1")
    query = parse_qs(urlparse(remote._upload_urls[name]).query)
    signed = query.get("X-Amz-Date", [""])[0]
    if signed:
        assert datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) >= asked
    else:  # SigV2 URLs say when they expire
        assert int(query["Expires"][0]) >= asked.timestamp() + 500
    remote.put_result(name, b"\xff\xd8 a jpeg")
    assert remote.finish(mine, "w1", TaskStatus.COMPLETED, result_key=name)
    remote.close()


def test_remote_queue_keeps_no_upload_entries_for_tasks_that_fail(s3_served: Live) -> None:
    """Was: every claim stored a name and a URL, removed only when a result was uploaded:
    1000 failed tasks left 2000 entries."""
    rt = s3_served.runtime
    for n in range(3):
        queued(rt, n)
    remote = RemoteQueue(s3_served.url, rt.store.create_worker_token("gpu")[1])
    failing = Failing()
    failing.name = "e"
    assert Worker(remote, remote, failing, lease_seconds=5).run(burst=True) == 3
    assert not getattr(remote, "_upload_names", {}) and not remote._upload_urls
    remote.close()
