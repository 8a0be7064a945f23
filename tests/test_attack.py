"""Hostile-client attacks on the integrated build: each test is named after what it refuses
or keeps equal, and fails on the code before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import Live, make_settings
from tests.store.test_contract import postgres_schema
from tests.test_fastpath import get, route_calls, same_events, submit
from tests.test_worker_boundary import Served, claim, queued, served, token
from twoshot.api import create_app
from twoshot.api.fastpath import App
from twoshot.domain import TaskStatus
from twoshot.runtime import Runtime
from twoshot.service import NoChecks

__all__ = ["served"]  # the worker fixture, imported for its tests here

# what the ordinary route's JSONResponse spells unlike orjson: an exponent float, an integer
# past 64 bits, a nested structure
ODD_QUALITY = {"tiny": 1e-05, "big": 1e20, "huge": 2**70, "deep": [[[{"a": [0.1, -0.0]}]]]}
# what a remote worker may send (within 64 bits) that orjson still spells otherwise
REMOTE_QUALITY = {"tiny": 1e-05, "big": 1e20, "u64": 2**64 - 1, "deep": [[{"a": -0.0}]]}


def ended_with_quality(live: Live, quality: dict) -> str:
    store = live.runtime.store
    task_id = submit(live)
    assert store.claim("w1", [live.runtime.settings.engine], 60) is not None
    assert store.finish(task_id, "w1", TaskStatus.COMPLETED, quality=quality)
    return task_id


def byte_equal(live: Live, ident: str) -> bytes:
    fast = get(live, ident, live.key, fast=True)
    slow = get(live, ident, live.key, fast=False)
    assert fast.status_code == slow.status_code == 200, (fast.text, slow.text)
    assert fast.content == slow.content
    return fast.content


def test_fast_path_spells_stored_quality_byte_for_byte_as_the_route(live: Live) -> None:
    """Was: the fast path re-encoded quality with orjson (0.00001, not 1e-05; an integer past
    64 bits raised): the same poll answered differently by path."""
    task_id = ended_with_quality(live, ODD_QUALITY)
    with route_calls(live) as calls:
        body = byte_equal(live, task_id)
    assert calls == [task_id]  # the slow poll only: the fast one answered itself
    assert json.loads(body)["quality"] == ODD_QUALITY
    assert b"1e-05" in body
    byte_equal(live, task_id)  # the reused (cached) body too


def test_fast_event_stream_spells_stored_quality_as_the_route(live: Live) -> None:
    """Was: an ended task's stream, answered whole by the fast path, parsed its body back
    with orjson, which turns an integer past 64 bits into a float (2**70 as 1.1805…e+21)."""
    task_id = ended_with_quality(live, ODD_QUALITY)
    for _ in range(2):  # encoded, then reused
        text = same_events(live, task_id, by_fast_path=True)
        assert str(2**70) in text and "1e-05" in text


def uploaded(client: TestClient | httpx.Client, headers: dict[str, str], task_id: str) -> str:
    """The result name of an upload for ``task_id`` by worker ``w1``, its file stored."""
    r = client.post(f"/worker/tasks/{task_id}/upload", headers=headers, json={"owner": "w1"})
    assert r.status_code == 200, r.text
    name = str(r.json()["name"])
    assert client.put(f"/worker/results/{name}", headers=headers, content=b"\xff\xd8").is_success
    return name


def finish_raw(client: TestClient, headers: dict[str, str], task_id: str, quality: str) -> int:
    name = uploaded(client, headers, task_id)
    body = f'{{"owner": "w1", "status": "completed", "result_key": "{name}", "quality": {quality}}}'
    r = client.post(
        f"/worker/tasks/{task_id}/finish",
        headers={**headers, "Content-Type": "application/json"},
        content=body.encode(),
    )
    if r.status_code == 400:
        assert r.json()["error"]["field"] == "quality", r.text
    return r.status_code


@pytest.mark.parametrize(
    "quality",
    [
        '{"score": NaN}',
        '{"score": Infinity}',
        '{"score": -Infinity}',
        '{"n": ' + str(2**80) + "}",
        '{"big": "' + "x" * (70 << 10) + '"}',
        '{"d": ' + "[" * 40 + "]" * 40 + "}",
    ],
    ids=["nan", "inf", "-inf", "int80", "70KiB", "depth40"],
)
def test_remote_worker_finish_with_unencodable_quality_is_refused(
    served: Served, quality: str
) -> None:
    """Was: stored as sent; every later poll of the task then 500ed (NaN), or carried the
    worker's megabytes."""
    rt, client = served
    mine = queued(rt, 1)
    headers = token(rt)
    claim(client, headers)
    assert finish_raw(client, headers, mine, quality) == 400
    assert rt.store.get_task(mine).status is TaskStatus.PROCESSING  # type: ignore[union-attr]
    assert finish_raw(client, headers, mine, '{"score": 0.5, "n": 18446744073709551615}') == 200
    assert rt.store.get_task(mine).status is TaskStatus.COMPLETED  # type: ignore[union-attr]


def test_poll_after_remote_quality_is_the_same_on_both_paths(live: Live) -> None:
    """End to end: a remote worker's accepted quality polls the same through both paths."""
    rt = live.runtime
    task_id = submit(live)
    worker = {"Authorization": f"Bearer {rt.store.create_worker_token('gpu')[1]}"}
    r = httpx.post(
        f"{live.url}/worker/claim",
        headers=worker,
        json={"owner": "w1", "engines": [rt.settings.engine]},
    )
    assert r.status_code == 200 and r.json()["task"]["id"] == task_id, r.text
    with httpx.Client(base_url=live.url) as http:
        name = uploaded(http, worker, task_id)
        r = http.post(
            f"/worker/tasks/{task_id}/finish",
            headers=worker,
            json={
                "owner": "w1",
                "status": "completed",
                "result_key": name,
                "quality": REMOTE_QUALITY,
            },
        )
    assert r.status_code == 200, r.text
    byte_equal(live, task_id)


def test_a_nul_anywhere_a_client_sends_text_is_never_a_500_on_postgresql(tmp_path: Path) -> None:
    """Was: PostgreSQL refuses a NUL in any text parameter, and every route that passed a
    client's id, name, owner or email with one to a query answered 500 (and logged a
    traceback): task-status, delete, results, every worker route, sign-in."""
    with postgres_schema() as url:
        rt = Runtime.build(make_settings(tmp_path, database_url=url), checks=NoChecks())
        try:
            nul_everywhere(rt)
        finally:
            rt.close()


def nul_everywhere(rt: Runtime) -> None:
    app = create_app(rt)
    assert isinstance(app, App)
    with TestClient(app, raise_server_exceptions=True) as client:
        key = {"X-Api-Key": rt.store.create_key("k")[1]}
        for fast in (True, False):
            app.fast_polls = fast
            for ident in ("%00", "t%00", "batch-%00"):
                r = client.get(f"/api/task-status/{ident}", headers=key)
                assert r.status_code == 404, (fast, ident, r.text)
        assert client.delete("/api/task/t%00", headers=key).status_code == 404
        assert client.get("/results/" + "A" * 28 + "%00.jpg").status_code == 404
        worker = token(rt)
        for route in ("heartbeat", "upload", "finish", "release"):
            body = {"owner": "w1", "status": "failed", "error": {"code": "x"}}
            r = client.post(f"/worker/tasks/t%00/{route}", headers=worker, json=body)
            assert r.status_code == 400, (route, r.text)
            body["owner"] = "w\x00"
            r = client.post(f"/worker/tasks/t1/{route}", headers=worker, json=body)
            assert r.status_code == 400, (route, r.text)
        for claim_body in (
            {"owner": "w\x00", "engines": ["e"]},
            {"owner": "w", "engines": ["\x00"]},
        ):
            assert client.post("/worker/claim", headers=worker, json=claim_body).status_code == 400
        r = client.post(
            "/api/account/sign-in",
            json={"email": "a\x00@example.com", "password": "p"},
            headers={"Origin": "http://testserver"},
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_field", r.text


DISGUISED = {
    "grapheme joiner": "a nu\u034fde couple",
    "variation selector": "a nu\ufe0fde couple",
    "left-to-right mark": "a nu\u200ede couple",
    "right-to-left override": "a nu\u202ede couple",
    "isolate": "a nu\u2066de couple",
    "invisible times": "a nu\u2062de couple",
    "mongolian separator": "a nu\u180ede couple",
    "tag letter": "a nu\U000e0041de couple",
    "hangul filler": "a nu\u3164de couple",
    "small capitals": "a \u0274\u1d1c\u1d05\u1d07 couple",
    "regional indicators": "a \U0001f1f3\U0001f1fa\U0001f1e9\U0001f1ea couple",
    "three spaces": "a n   u   d   e couple",
    "slashes": "a n/u/d/e couple",
    "commas": "a n,u,d,e couple",
    "middle dots": "a n\u00b7u\u00b7d\u00b7e couple",
    "em dashes": "a n\u2014u\u2014d\u2014e couple",
}


@pytest.mark.parametrize("prompt", DISGUISED.values(), ids=DISGUISED.keys())
def test_prompt_policy_sees_through_unseen_characters_and_odd_letters(prompt: str) -> None:
    """Was: every one of these passed the policy ("nude" with a character that renders as
    nothing inside it, in small capitals or flag letters, or spelt out with , / · —)."""
    from twoshot.safety.prompts import PromptPolicy

    assert PromptPolicy.load().violation(prompt) is not None


def test_prompt_policy_still_passes_ordinary_prompts_with_those_characters() -> None:
    from twoshot.safety.prompts import PromptPolicy

    policy = PromptPolicy.load()
    for prompt in (
        "a couple in Paris, expensive dinner",
        "Anna's ex-husband at the wedding",
        "the \U0001f1fa\U0001f1f8 flag behind them",
        "caf\u00e9, na\u00efve couple, ni\u00f1a",
        "a smiling couple at sunset \u2764\ufe0f",
        "\u0905\u0928\u0941 \u0914\u0930 \u0930\u093e\u091c",  # Hindi, with its vowel signs
    ):
        assert policy.violation(prompt) is None, prompt


def test_remote_worker_cannot_complete_without_a_result_or_report_nan_progress(
    served: Served,
) -> None:
    """Was: ``completed`` with no result_key was stored (every poll then showed a completed
    task with no image), and a NaN or infinite progress was taken (and shown as 1.0)."""
    rt, client = served
    mine = queued(rt, 1)
    headers = token(rt)
    claim(client, headers)
    for progress in ("NaN", "Infinity", "-Infinity"):
        r = client.post(
            f"/worker/tasks/{mine}/heartbeat",
            headers={**headers, "Content-Type": "application/json"},
            content=f'{{"owner": "w1", "progress": {progress}}}'.encode(),
        )
        assert r.status_code == 400 and r.json()["error"]["field"] == "progress", r.text
    r = client.post(
        f"/worker/tasks/{mine}/finish", headers=headers, json={"owner": "w1", "status": "completed"}
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "result_key", r.text
    assert rt.store.get_task(mine).status is TaskStatus.PROCESSING  # type: ignore[union-attr]
    result_key = uploaded(client, headers, mine)
    body = {"owner": "w1", "status": "completed", "result_key": result_key}
    assert (
        client.post(f"/worker/tasks/{mine}/finish", headers=headers, json=body).status_code == 200
    )
    assert rt.store.get_task(mine).result_key == result_key  # type: ignore[union-attr]


def test_remote_worker_result_upload_must_be_a_jpeg(served: Served) -> None:
    """Was: any bytes (empty, HTML) were stored and served as the task's image/jpeg."""
    rt, client = served
    mine = queued(rt, 1)
    headers = token(rt)
    claim(client, headers)
    r = client.post(f"/worker/tasks/{mine}/upload", headers=headers, json={"owner": "w1"})
    name = r.json()["name"]
    for body in (b"", b"<html><script>alert(1)</script>", b"GIF89a"):
        put = client.put(f"/worker/results/{name}", headers=headers, content=body)
        assert put.status_code == 400, put.text
        assert rt.blobs.get_result(name) is None
    assert client.put(
        f"/worker/results/{name}", headers=headers, content=b"\xff\xd8\xff"
    ).is_success


@pytest.mark.xfail(
    strict=True,
    reason="open: a letter repeated ('nuuude', 'sexxx') passes the policy; allowing repeats in "
    "term_pattern needs a false-positive review of every rule, not done in this pass",
)
def test_prompt_policy_sees_through_repeated_letters() -> None:
    from twoshot.safety.prompts import PromptPolicy

    policy = PromptPolicy.load()
    assert all(policy.violation(p) for p in ("a nuuude couple", "a nnude couple", "sexxx"))
