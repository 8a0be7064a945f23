"""The HTTP contract: routes, errors (status, code, field), keys, isolation, batches, actions."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Live, couple_files, photo


def post_couple(live: Live, **kw: object) -> httpx.Response:
    kw.setdefault("files", couple_files())
    kw.setdefault("headers", live.headers)
    return httpx.post(f"{live.url}/api/couple_image", **kw)  # type: ignore[arg-type]


def status(live: Live, task_id: str, key: str | None = None) -> httpx.Response:
    return httpx.get(
        f"{live.url}/api/task-status/{task_id}", headers={"X-Api-Key": key or live.key}
    )


def assert_error(r: httpx.Response, status_code: int, code: str, field: str | None = None) -> dict:
    assert r.status_code == status_code, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    assert err["message"]
    if field is not None:
        assert err.get("field") == field, err
    return err


def test_couple_round_trip(live: Live) -> None:
    r = post_couple(live, data={"prompt": "at the beach", "seed": "7"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {"task_id": body["task_id"], "status": "queued"}
    queued = status(live, body["task_id"]).json()
    assert queued["status"] == "queued" and queued["image_url"] is None
    assert live.drain() == 1
    done = status(live, body["task_id"]).json()
    assert done["status"] == "completed" and done["progress"] == 1.0
    assert done["image_url"].startswith(live.url + "/results/")
    image = httpx.get(done["image_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content[:2] == b"\xff\xd8"


def test_unauthorized(live: Live) -> None:
    assert_error(post_couple(live, headers={}), 401, "unauthorized")
    assert_error(post_couple(live, headers={"X-Api-Key": "ts_nope"}), 401, "unauthorized")
    assert_error(httpx.get(f"{live.url}/api/task-status/x"), 401, "unauthorized")


def test_revoked_key_is_refused_at_once(live: Live) -> None:
    secret = live.new_key("soon revoked")
    assert post_couple(live, headers={"X-Api-Key": secret}).status_code == 200
    key_id = live.runtime.store.authenticate(secret).id  # type: ignore[union-attr]
    live.runtime.store.revoke_key(key_id)
    assert_error(post_couple(live, headers={"X-Api-Key": secret}), 401, "unauthorized")


def test_keys_do_not_see_each_other(live: Live) -> None:
    task_id = post_couple(live).json()["task_id"]
    other = live.new_key()
    assert_error(status(live, task_id, other), 404, "not_found")
    assert_error(
        httpx.post(f"{live.url}/api/task/{task_id}/cancel", headers={"X-Api-Key": other}),
        404,
        "not_found",
    )
    assert_error(
        httpx.delete(f"{live.url}/api/task/{task_id}", headers={"X-Api-Key": other}),
        404,
        "not_found",
    )
    assert status(live, task_id).json()["status"] == "queued"


def test_missing_and_invalid_fields(live: Live) -> None:
    assert_error(
        post_couple(live, files={"femaleImage": ("f.jpg", photo("astronaut.jpg"))}),
        400,
        "missing_field",
        "maleImage",
    )
    assert_error(post_couple(live, data={"width": "500"}), 400, "invalid_field", "width")
    assert_error(post_couple(live, data={"seed": "abc"}), 400, "invalid_field", "seed")
    assert_error(post_couple(live, data={"layout": "sideways"}), 400, "invalid_field", "layout")
    assert_error(post_couple(live, data={"engine": "nope"}), 400, "invalid_field", "engine")
    assert_error(post_couple(live, data={"prompt": "x" * 5000}), 400, "invalid_field", "prompt")
    person = httpx.post(
        f"{live.url}/api/person_image",
        headers=live.headers,
        files={"personImages[0]": ("p.jpg", photo("obama.jpg"), "image/jpeg")},
    )
    assert_error(person, 400, "missing_field", "prompt")
    nobody = httpx.post(f"{live.url}/api/person_image", headers=live.headers, data={"prompt": "hi"})
    assert_error(nobody, 400, "missing_field", "personImages[0]")


def test_invalid_image_names_the_field(live: Live) -> None:
    files = couple_files()
    files["femaleImage"] = ("f.jpg", b"this is not a jpeg", "image/jpeg")
    assert_error(post_couple(live, files=files), 400, "invalid_image", "femaleImage")


def test_upload_over_the_byte_limit_is_413(live: Live) -> None:
    files = couple_files()
    files["maleImage"] = ("m.jpg", b"\xff\xd8" + b"\0" * (16 * 1024 * 1024), "image/jpeg")
    assert_error(post_couple(live, files=files), 413, "payload_too_large", "maleImage")


def test_body_over_the_request_limit_is_413(live: Live) -> None:
    big = b"\0" * (6 * 15 * 1024 * 1024 + 2 * 1024 * 1024)
    r = httpx.post(f"{live.url}/api/couple_image", headers=live.headers, content=big)
    assert_error(r, 413, "payload_too_large")

    def chunks():  # no Content-Length: the cap holds while streaming
        yield (
            b'--x\r\nContent-Disposition: form-data; name="maleImage"; filename="m.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        for _ in range(100):
            yield b"\0" * (1024 * 1024)

    r = httpx.post(
        f"{live.url}/api/couple_image",
        headers={**live.headers, "Content-Type": "multipart/form-data; boundary=x"},
        content=chunks(),
    )
    assert_error(r, 413, "payload_too_large")
    assert httpx.get(f"{live.url}/healthz").status_code == 200


def test_person_with_several_references(live: Live) -> None:
    files = {
        "personImages[0]": ("a.jpg", photo("obama.jpg"), "image/jpeg"),
        "personImages[1]": ("b.jpg", photo("obama2.jpg"), "image/jpeg"),
        "personImages[2]": ("c.jpg", photo("obama.jpg"), "image/jpeg"),  # a duplicate: stored once
    }
    r = httpx.post(
        f"{live.url}/api/person_image", headers=live.headers, files=files, data={"prompt": "studio"}
    )
    assert r.status_code == 200, r.text
    task = live.runtime.store.get_task(r.json()["task_id"])
    assert task is not None and len(task.spec.references) == 2


def test_unknown_task_and_route(live: Live) -> None:
    assert_error(status(live, "0" * 32), 404, "not_found")
    assert_error(status(live, "x" * 500), 404, "not_found")
    assert_error(httpx.get(f"{live.url}/api/nothing", headers=live.headers), 404, "not_found")
    assert_error(httpx.get(f"{live.url}/results/{'a' * 32}.jpg"), 404, "not_found")
    assert_error(httpx.get(f"{live.url}/results/..%2F..%2Fetc%2Fpasswd"), 404, "not_found")


def test_idempotency_key(live: Live) -> None:
    headers = {**live.headers, "Idempotency-Key": "abc-1"}
    first = post_couple(live, headers=headers).json()
    again = post_couple(live, headers=headers).json()
    assert first == again
    other = post_couple(live, headers=headers, data={"prompt": "something else"})
    assert_error(other, 409, "idempotency_key_reused", "Idempotency-Key")


def test_cancel_queued_and_delete(live: Live) -> None:
    task_id = post_couple(live).json()["task_id"]
    r = httpx.post(f"{live.url}/api/task/{task_id}/cancel", headers=live.headers)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert live.drain() == 0
    done = post_couple(live).json()["task_id"]
    live.drain()
    url = status(live, done).json()["image_url"]
    assert httpx.get(url).status_code == 200
    assert httpx.delete(f"{live.url}/api/task/{done}", headers=live.headers).status_code == 204
    assert_error(status(live, done), 404, "not_found")
    assert_error(httpx.get(url), 404, "not_found")


def test_inputs_are_deleted_when_their_last_task_ends(live: Live) -> None:
    a = post_couple(live).json()["task_id"]
    b = post_couple(live, files=couple_files(female="obama2.jpg")).json()["task_id"]
    blobs = live.runtime.blobs
    assert len(list(blobs.input_ages())) == 3  # obama is shared
    live.drain()
    assert {status(live, t).json()["status"] for t in (a, b)} == {"completed"}
    assert list(blobs.input_ages()) == []


def test_canceling_a_queued_task_releases_its_inputs_at_once(live: Live) -> None:
    task_id = post_couple(live).json()["task_id"]
    assert len(list(live.runtime.blobs.input_ages())) == 2
    httpx.post(f"{live.url}/api/task/{task_id}/cancel", headers=live.headers)
    assert list(live.runtime.blobs.input_ages()) == []


def test_deleting_a_batch_deletes_it_whole(live: Live, image_server: str) -> None:
    body = {
        "femaleImages": [f"{image_server}/astronaut.jpg"],
        "maleImages": [f"{image_server}/obama.jpg"],
        "items": [{"femaleIndex": 0, "maleIndex": 0, "prompt": p} for p in ("beach", "park")],
    }
    answer = httpx.post(f"{live.url}/api/couple_image/batch", headers=live.headers, json=body)
    batch_id, (first, second) = answer.json()["task_id"], answer.json()["task_ids"]
    worker = live.runtime.make_worker(live.runtime.settings.engine)
    assert worker.run_once()  # one item completed, with a result file; one still queued
    url = status(live, batch_id).json()["image_urls"][0]
    assert httpx.get(url).status_code == 200
    other = {"X-Api-Key": live.new_key()}
    assert httpx.delete(f"{live.url}/api/task/{batch_id}", headers=other).status_code == 404
    assert httpx.delete(f"{live.url}/api/task/{batch_id}", headers=live.headers).status_code == 204
    for ident in (batch_id, first, second):
        assert_error(status(live, ident), 404, "not_found")
    assert_error(httpx.get(url), 404, "not_found")
    assert list(live.runtime.blobs.input_ages()) == []
    again = httpx.delete(f"{live.url}/api/task/{batch_id}", headers=live.headers)
    assert_error(again, 404, "not_found")


def test_couple_batch(live: Live, image_server: str) -> None:
    body = {
        "femaleImages": [f"{image_server}/astronaut.jpg"],
        "maleImages": [f"{image_server}/obama.jpg", f"{image_server}/obama2.jpg"],
        "items": [
            {"femaleIndex": 0, "maleIndex": 0, "prompt": "beach"},
            {
                "femaleIndex": 0,
                "maleIndex": 1,
                "prompt": "park",
                "poseImage": f"{image_server}/obama3.jpg",
            },
            {"femaleIndex": 0, "maleIndex": 0, "prompt": "snow", "seed": 3},
        ],
    }
    before = live.runtime.service.intake.analysed
    r = httpx.post(f"{live.url}/api/couple_image/batch", headers=live.headers, json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "queued" and len(answer["task_ids"]) == 3
    assert live.runtime.service.intake.analysed - before == 4  # each distinct image once
    agg = status(live, answer["task_id"]).json()
    assert agg["status"] == "queued" and agg["image_urls"] == [None, None, None]
    live.drain()
    agg = status(live, answer["task_id"]).json()
    assert agg["status"] == "completed"
    assert [t["task_id"] for t in agg["tasks"]] == answer["task_ids"]
    assert all(u and u.startswith(live.url) for u in agg["image_urls"])
    assert agg["image_url"] == agg["image_urls"][0]


def test_batch_errors(live: Live, image_server: str) -> None:
    url = f"{image_server}/obama.jpg"

    def post(body):
        return httpx.post(f"{live.url}/api/couple_image/batch", headers=live.headers, json=body)

    ok_item = {"femaleIndex": 0, "maleIndex": 0, "prompt": "x"}
    assert_error(
        post(
            {
                "femaleImages": [url],
                "maleImages": [url],
                "items": [ok_item, {**ok_item, "maleIndex": 2}],
            }
        ),
        400,
        "invalid_index",
        "items[1].maleIndex",
    )
    assert_error(
        post(
            {"femaleImages": [url], "maleImages": [url], "items": [{**ok_item, "femaleIndex": -1}]}
        ),
        400,
        "invalid_index",
        "items[0].femaleIndex",
    )
    assert_error(
        post({"femaleImages": [url], "maleImages": [url], "items": [ok_item] * 101}),
        400,
        "too_many_items",
        "items",
    )
    assert_error(
        post({"femaleImages": [url] * 17, "maleImages": [url], "items": [ok_item]}),
        400,
        "too_many_items",
        "femaleImages",
    )
    assert_error(
        post({"femaleImages": [url], "items": [ok_item]}), 400, "missing_field", "maleImages"
    )
    assert_error(
        post(
            {
                "femaleImages": [url],
                "maleImages": [url],
                "items": [{"femaleIndex": 0, "maleIndex": 0}],
            }
        ),
        400,
        "missing_field",
        "items[0].prompt",
    )
    assert_error(
        post(
            {
                "femaleImages": [url],
                "maleImages": [f"{image_server}/missing.jpg"],
                "items": [ok_item],
            }
        ),
        400,
        "fetch_failed",
        "maleImages[0]",
    )
    assert_error(
        post({"femaleImages": [url], "maleImages": ["file:///etc/passwd"], "items": [ok_item]}),
        400,
        "url_not_allowed",
        "maleImages[0]",
    )
    r = httpx.post(
        f"{live.url}/api/couple_image/batch",
        headers={**live.headers, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert_error(r, 400, "invalid_field")
    assert_error(
        httpx.post(
            f"{live.url}/api/person_image_batch",
            headers=live.headers,
            json={"personImages": [url], "promptData": []},
        ),
        400,
        "missing_field",
        "promptData",
    )


def test_person_batch(live: Live, image_server: str) -> None:
    body = {
        "personImages": [f"{image_server}/obama.jpg", f"{image_server}/obama2.jpg"],
        "promptData": [
            {
                "controlImage": f"{image_server}/obama3.jpg",
                "prompt": "studio portrait, soft lighting",
            },
            {"prompt": "outdoor portrait in a park"},
        ],
    }
    r = httpx.post(f"{live.url}/api/person_image_batch", headers=live.headers, json=body)
    assert r.status_code == 200, r.text
    live.drain()
    agg = status(live, r.json()["task_id"]).json()
    assert agg["status"] == "completed" and len(agg["tasks"]) == 2


def test_openapi_and_docs(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    for path in (
        "/api/couple_image",
        "/api/couple_image/batch",
        "/api/person_image",
        "/api/person_image_batch",
        "/api/task-status/{task_id}",
    ):
        assert path in spec["paths"]
    form = spec["paths"]["/api/person_image"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]
    schema_ref = form["schema"]["$ref"].split("/")[-1]
    assert "personImages[0]" in spec["components"]["schemas"][schema_ref]["properties"]
    assert httpx.get(f"{live.url}/docs").status_code == 200
    ready = httpx.get(f"{live.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"


@pytest.mark.parametrize(
    "name", sorted(__import__("tests.test_images", fromlist=["HOSTILE"]).HOSTILE)
)
def test_hostile_files_through_the_server(live: Live, name: str) -> None:
    from tests.test_images import HOSTILE

    data, error, _words = HOSTILE[name]
    files = couple_files()
    files["femaleImage"] = ("f.jpg", data, "image/jpeg")
    r = post_couple(live, files=files)
    expected = 413 if error.__name__ == "PayloadTooLarge" else 400
    err = assert_error(
        r, expected, "payload_too_large" if expected == 413 else "invalid_image", "femaleImage"
    )
    assert "femaleImage" in err["message"]
    assert httpx.get(f"{live.url}/healthz").status_code == 200  # and the server keeps serving


def test_task_status_is_served_by_the_fast_endpoint_and_documented(live: Live) -> None:
    from starlette.routing import Route

    from twoshot.api.tasks import STATUS_PATH, router, task_status_endpoint

    served = [r for r in router.routes if getattr(r, "path", "") == STATUS_PATH]
    assert [type(r) for r in served] == [Route]  # the schema's twin is never routed
    assert served[0].endpoint is task_status_endpoint
    schema = httpx.get(f"{live.url}/openapi.json").json()
    assert "X-Api-Key" in str(schema["paths"][STATUS_PATH]["get"])
    assert "/api/webhook-secret" in schema["paths"]
