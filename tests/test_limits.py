"""Per-key rate limits and quotas (counted in tasks, stored in the database, so replicas
share them) and backpressure on the queue: 429 with Retry-After."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Live, make_settings, photo, start_live, stop_live
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


def couple(live: Live, key: str | None = None, female: bytes | None = None) -> httpx.Response:
    files = {
        "maleImage": ("m.jpg", photo("obama.jpg")),
        "femaleImage": ("f.jpg", female or photo("astronaut.jpg")),
    }
    return httpx.post(
        f"{live.url}/api/couple_image", headers={"X-Api-Key": key or live.key}, files=files
    )


def batch(live: Live, items: int) -> httpx.Response:
    url = "data:image/jpeg;base64," + __import__("base64").b64encode(photo("obama.jpg")).decode()
    body = {
        "maleImages": [url],
        "femaleImages": [url],
        "items": [{"maleIndex": 0, "femaleIndex": 0, "prompt": "x"}] * items,
    }
    return httpx.post(f"{live.url}/api/couple_image/batch", headers=live.headers, json=body)


def serve(tmp_path: Path, **limits: object) -> Live:
    return start_live(Runtime.build(make_settings(tmp_path, **limits), checks=NoChecks()))


def test_rate_limit_counts_tasks_and_refunds_refusals(tmp_path: Path) -> None:
    live = serve(tmp_path, rate_limit_per_minute=3)
    try:
        assert couple(live, female=b"not an image").status_code == 400  # refused: not counted
        assert couple(live).status_code == 200
        assert batch(live, 3).status_code == 429  # 1 + 3 > 3: refused whole, and not counted
        assert batch(live, 2).status_code == 200
        r = couple(live)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 61
        assert couple(live, key=live.new_key()).status_code == 200  # another key, its own limit
    finally:
        stop_live(live)


def test_daily_quota(tmp_path: Path) -> None:
    live = serve(tmp_path, quota_per_day=2)
    try:
        assert [couple(live).status_code for _ in range(2)] == [200, 200]
        r = couple(live)
        assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
        assert int(r.headers["Retry-After"]) <= 86401
    finally:
        stop_live(live)


def test_backpressure_when_the_queue_is_full(tmp_path: Path) -> None:
    live = serve(tmp_path, max_queued=2)
    try:
        assert [couple(live).status_code for _ in range(2)] == [200, 200]
        r = couple(live)
        assert (
            r.status_code == 429
            and r.json()["error"]["code"] == "queue_full"
            and r.headers["Retry-After"]
        )
        live.drain()
        assert couple(live).status_code == 200
    finally:
        stop_live(live)


def test_two_replicas_enforce_one_limit(tmp_path: Path) -> None:
    first = serve(tmp_path, rate_limit_per_minute=2)
    second = start_live(
        Runtime.build(make_settings(tmp_path, rate_limit_per_minute=2), checks=NoChecks())
    )
    try:
        assert couple(first).status_code == 200
        assert couple(second, key=first.key).status_code == 200
        assert couple(second, key=first.key).status_code == 429
        assert couple(first).status_code == 429
    finally:
        stop_live(second)
        stop_live(first)
