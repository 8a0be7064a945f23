"""task-status's fast path (api/fastpath.py) answers exactly as the ordinary route does, for
tasks and batches in every state, on SQLite and PostgreSQL; every refusal is the ordinary
route's own; nothing is cached; and the route stays documented."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import Live, couple_files, make_settings, start_live, stop_live
from tests.store.test_contract import postgres_schema
from twoshot.api.fastpath import App
from twoshot.domain import ErrorInfo, TaskStatus
from twoshot.runtime import Runtime
from twoshot.service import NoChecks

IGNORED = {"date"}


def app_of(live: Live) -> App:
    app = live.server.config.app
    assert isinstance(app, App)
    return app


def get(live: Live, ident: str, key: str | None, *, fast: bool) -> httpx.Response:
    app_of(live).fast_polls = fast
    headers = {} if key is None else {"X-Api-Key": key}
    try:
        return httpx.get(f"{live.url}/api/task-status/{ident}", headers=headers)
    finally:
        app_of(live).fast_polls = True


def same(live: Live, ident: str, key: str | None) -> httpx.Response:
    """The poll through both paths: same status, headers and JSON."""
    fast, slow = get(live, ident, key, fast=True), get(live, ident, key, fast=False)
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.json() == slow.json()
    assert len(fast.content) == len(slow.content)
    heads = [{k: v for k, v in r.headers.items() if k not in IGNORED} for r in (fast, slow)]
    assert heads[0] == heads[1]
    return fast


@contextmanager
def route_calls(live: Live) -> Iterator[list[str]]:
    """The ids the ordinary route answered for while inside."""
    service = live.runtime.service
    original = service.status
    calls: list[str] = []

    def counted(ident: str, secret: str | None) -> object:
        calls.append(ident)
        return original(ident, secret)

    service.status = counted  # type: ignore[method-assign,assignment]
    try:
        yield calls
    finally:
        service.status = original  # type: ignore[method-assign]


def submit(live: Live) -> str:
    r = httpx.post(f"{live.url}/api/couple_image", headers=live.headers, files=couple_files())
    assert r.status_code == 200, r.text
    return str(r.json()["task_id"])


def submit_batch(live: Live, image_server: str, items: int = 2) -> tuple[str, list[str]]:
    body = {
        "femaleImages": [f"{image_server}/astronaut.jpg"],
        "maleImages": [f"{image_server}/obama.jpg"],
        "items": [{"femaleIndex": 0, "maleIndex": 0, "prompt": f"p{i}"} for i in range(items)],
    }
    r = httpx.post(f"{live.url}/api/couple_image/batch", headers=live.headers, json=body)
    assert r.status_code == 200, r.text
    return r.json()["task_id"], r.json()["task_ids"]


def fail_one(live: Live) -> str:
    """A task that ended failed, with its error."""
    store = live.runtime.store
    task_id = submit(live)
    claimed = store.claim("w1", [live.runtime.settings.engine], 60)
    assert claimed is not None and claimed.id == task_id
    error = ErrorInfo("fixture_refused", "the fixture engine refuses — naïve ✓")
    assert store.finish(task_id, "w1", TaskStatus.FAILED, error=error)
    return task_id


def events(live: Live, ident: str, *, fast: bool) -> httpx.Response:
    app_of(live).fast_polls = fast
    try:
        url = f"{live.url}/api/task-status/{ident}/events"
        return httpx.get(url, headers={**live.headers, "Last-Event-ID": "3.0"}, timeout=30)
    finally:
        app_of(live).fast_polls = True


def same_events(live: Live, ident: str, *, by_fast_path: bool) -> str:
    """The event stream of an ended task or batch through both paths: the same bytes and
    headers (the fast path sends it whole, with a length; the route streams it chunked)."""
    service = live.runtime.service
    original = service.lookup
    calls: list[str] = []

    def counted(ident: str, key: object) -> object:
        calls.append(ident)
        return original(ident, key)  # type: ignore[arg-type]

    service.lookup = counted  # type: ignore[method-assign,assignment]
    try:
        fast = events(live, ident, fast=True)
    finally:
        service.lookup = original  # type: ignore[method-assign]
    assert (calls == []) is by_fast_path, calls
    slow = events(live, ident, fast=False)
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content
    framing = IGNORED | {"content-length", "transfer-encoding"}
    heads = [{k: v for k, v in r.headers.items() if k not in framing} for r in (fast, slow)]
    assert heads[0] == heads[1]
    assert ("content-length" in fast.headers) is by_fast_path
    return fast.text


def answered(live: Live, ident: str) -> dict:
    """A 200 from the fast path itself, equal to the ordinary route's answer."""
    with route_calls(live) as calls:
        assert get(live, ident, live.key, fast=True).status_code == 200
    assert calls == []
    return same(live, ident, live.key).json()


def check_every_state(live: Live, image_server: str) -> None:
    failed = fail_one(live)
    queued = submit(live)
    batch, items = submit_batch(live, image_server)
    assert answered(live, queued)["status"] == "queued"
    assert answered(live, batch)["status"] == "queued"
    assert answered(live, failed)["error"]["code"] == "fixture_refused"
    live.drain()
    done = submit(live)
    live.drain()
    live.runtime.store.forget_result(done)  # retention took its file
    body = answered(live, queued)
    assert body["status"] == "completed" and body["quality"] and body["image_url"]
    assert answered(live, done)["result_expired"] is True
    agg = answered(live, batch)
    assert agg["status"] == "completed" and len(agg["tasks"]) == 2
    assert answered(live, items[1])["batch_id"] == batch
    # an ended task's event stream: whole from the fast path, as the route streams it
    for ident in (queued, done, failed):
        text = same_events(live, ident, by_fast_path=True)
        assert text.startswith("retry: 1000\n\nid: end\nevent: done\ndata: {")
        assert text.endswith("}\n\n") and text.count("event:") == 1
    assert "fixture_refused" in same_events(live, failed, by_fast_path=True)
    assert "event: item" in same_events(live, batch, by_fast_path=False)  # a batch's: the route's
    # refusals: the ordinary route's own bodies, through both paths
    other = live.new_key()
    for ident, key, code in (
        (queued, None, 401),
        (queued, "ts_nope", 401),
        (queued, other, 404),
        (batch, other, 404),
        ("no-such-task", live.key, 404),
        ("batch-nope", live.key, 404),
        ("x" * 65, live.key, 404),
    ):
        r = same(live, ident, key)
        assert r.status_code == code, (ident, key, r.text)
        assert r.json()["error"]["code"] == ("unauthorized" if code == 401 else "not_found")


def test_fast_path_answers_as_the_route_on_sqlite(live: Live, image_server: str) -> None:
    check_every_state(live, image_server)


def test_fast_path_answers_as_the_route_on_postgresql(tmp_path: Path, image_server: str) -> None:
    with postgres_schema() as url:
        settings = make_settings(tmp_path, database_url=url)
        live = start_live(Runtime.build(settings, checks=NoChecks()))
        try:
            assert not live.runtime.store.inline_reads  # the read goes to the thread pool
            check_every_state(live, image_server)
        finally:
            stop_live(live)


def test_refused_at_once_after_delete_revoke_or_disable(live: Live, image_server: str) -> None:
    """Nothing is cached: each change shows at the very next poll."""
    store = live.runtime.store
    task_id = submit(live)
    batch, _ = submit_batch(live, image_server)
    live.drain()
    for ident in (task_id, batch):
        assert get(live, ident, live.key, fast=True).status_code == 200
        assert httpx.delete(f"{live.url}/api/task/{ident}", headers=live.headers).status_code == 204
        assert same(live, ident, live.key).status_code == 404

    account = store.create_account("dev@example.com")
    secret = store.create_key("dev", account.id)[1]
    mine = submit(Live(live.url, live.runtime, secret, live.server, live.thread))
    assert get(live, mine, secret, fast=True).status_code == 200
    store.set_disabled(account.id, True)
    assert same(live, mine, secret).status_code == 401
    store.set_disabled(account.id, False)
    assert get(live, mine, secret, fast=True).status_code == 200
    key = store.authenticate(secret)
    assert key is not None
    store.revoke_key(key.id)
    assert same(live, mine, secret).status_code == 401


def test_what_the_fast_path_leaves_to_the_route(live: Live) -> None:
    task_id = submit(live)
    url = f"{live.url}/api/task-status/{task_id}"
    with route_calls(live) as calls:
        # a GET with a body goes through the ordinary app (and its body limit)
        assert httpx.request("GET", url, headers=live.headers, content=b"x").status_code == 200
    assert calls == [task_id]
    head = httpx.head(url, headers=live.headers)
    assert head.status_code == 200 and head.content == b""
    with httpx.stream("GET", f"{url}/events", headers=live.headers) as events:
        # a live task's event stream, under the same prefix, is the ordinary app's
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")


def test_task_status_in_openapi_with_its_responses(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    operation = spec["paths"]["/api/task-status/{task_id}"]["get"]
    assert {"200", "400", "401", "404"} <= set(operation["responses"])
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/TaskStatusBody")
    assert operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
    assert [p["name"] for p in operation["parameters"]] == ["task_id", "X-Api-Key"] or {
        p["name"] for p in operation["parameters"]
    } == {"task_id"}
    assert "X-Api-Key" in str(operation)
    assert "image_urls" in spec["components"]["schemas"]["TaskStatusBody"]["properties"]


def test_ended_bodies_reused_yet_deletion_404s_at_once_on_every_replica(
    tmp_path: Path, image_server: str
) -> None:
    """Two replicas on one database, both holding the encoded body of an ended task and
    batch: a delete through one is a 404 at the next poll of the other, and a result taken
    by retention shows at once (the body's key names the result)."""
    first = start_live(Runtime.build(make_settings(tmp_path), checks=NoChecks()))
    second = start_live(Runtime.build(make_settings(tmp_path), checks=NoChecks()))
    try:
        task_id = submit(first)
        expiring = submit(first)
        batch, _ = submit_batch(first, image_server)
        first.drain()
        for live in (first, second):
            for ident in (task_id, expiring, batch):
                for _ in range(2):  # the second poll is answered with the stored body
                    assert get(live, ident, first.key, fast=True).status_code == 200
            assert app_of(live)._fast is not None and len(app_of(live)._fast._bodies._bodies) == 3
        first.runtime.store.forget_result(expiring)
        for live in (first, second):
            assert get(live, expiring, first.key, fast=True).json()["result_expired"] is True
        for ident in (task_id, batch):
            r = httpx.delete(f"{first.url}/api/task/{ident}", headers=first.headers)
            assert r.status_code == 204
            for live in (second, first):
                assert get(live, ident, first.key, fast=True).status_code == 404
    finally:
        stop_live(second)
        stop_live(first)


def test_an_ended_tasks_stream_refuses_as_the_route_does(live: Live) -> None:
    """The fast path answers an ended task's stream only for its own live key: with no key, a
    wrong one, another account's, a deleted task or a revoked key, the route's own 401 or
    404 comes back, exactly as with the fast path off."""
    task_id = submit(live)
    live.drain()
    url = f"{live.url}/api/task-status/{task_id}/events"

    def both(key: str | None) -> list[tuple[int, str]]:
        answers = []
        for fast in (True, False):
            app_of(live).fast_polls = fast
            try:
                r = httpx.get(url, headers={} if key is None else {"X-Api-Key": key})
            finally:
                app_of(live).fast_polls = True
            answers.append((r.status_code, r.json()["error"]["code"]))
        assert answers[0] == answers[1], answers
        return answers

    assert both(None)[0] == (401, "unauthorized")
    assert both("ts_nope")[0] == (401, "unauthorized")
    assert both(live.new_key())[0] == (404, "not_found")
    other = live.runtime.store.create_key("revoked")
    live.runtime.store.revoke_key(other[0].id)
    assert both(other[1])[0] == (401, "unauthorized")
    assert httpx.delete(f"{live.url}/api/task/{task_id}", headers=live.headers).status_code == 204
    assert both(live.key)[0] == (404, "not_found")
