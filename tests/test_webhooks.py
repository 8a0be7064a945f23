"""Webhooks: a real delivery to a receiver on loopback, verified with the Standard Webhooks
reference library, retried after a first 500."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.conftest import Live, make_settings, photo, start_live, stop_live
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


class Receiver:
    """Answers 500 to the first delivery and 204 to the rest, and keeps what it got."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(outer.received) == 1 else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/twoshot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[Live]:
    settings = make_settings(tmp_path, webhook_backoff=0.2)
    server = start_live(Runtime.build(settings, checks=NoChecks()))
    yield server
    stop_live(server)


def files() -> dict:
    return {
        "maleImage": ("m.jpg", photo("obama.jpg")),
        "femaleImage": ("f.jpg", photo("astronaut.jpg")),
    }


def test_signed_delivery_with_a_retry(hooked: Live, receiver: Receiver) -> None:
    r = httpx.post(
        f"{hooked.url}/api/couple_image",
        headers=hooked.headers,
        files=files(),
        data={"webhook_url": receiver.url},
    )
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    hooked.runtime.start_webhooks()
    hooked.drain()
    deadline = time.time() + 20
    while len(receiver.received) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert len(receiver.received) == 2, receiver.received
    (first_headers, first_body), (headers, body) = receiver.received
    assert first_headers["webhook-id"] == headers["webhook-id"]  # a retry, not a new message

    secret = httpx.get(f"{hooked.url}/api/webhook-secret", headers=hooked.headers).json()[
        "webhook_secret"
    ]
    payload = Webhook(secret).verify(body, headers)  # raises if the signature is wrong
    assert payload["task_id"] == task_id and payload["status"] == "completed"
    assert payload["image_url"].startswith(hooked.url + "/results/")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    other = hooked.new_key()
    other_secret = httpx.get(
        f"{hooked.url}/api/webhook-secret", headers={"X-Api-Key": other}
    ).json()
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret["webhook_secret"]).verify(body, headers)

    deadline = time.time() + 5
    while time.time() < deadline:
        [delivery] = hooked.runtime.store.deliveries(task_id)
        if delivery["status"] == "delivered":
            break
        time.sleep(0.05)
    assert delivery == {
        "status": "delivered",
        "attempts": 2,
        "last_error": None,
        "url": receiver.url,
    }
    assert json.loads(first_body) == json.loads(body)


def test_batch_and_cancel_send_one_delivery_per_task(hooked: Live, receiver: Receiver) -> None:
    r = httpx.post(
        f"{hooked.url}/api/couple_image",
        headers=hooked.headers,
        files=files(),
        data={"webhook_url": receiver.url},
    )
    task_id = r.json()["task_id"]
    httpx.post(f"{hooked.url}/api/task/{task_id}/cancel", headers=hooked.headers)
    [delivery] = hooked.runtime.store.deliveries(task_id)
    assert delivery["status"] == "pending"


def test_webhook_url_rules(tmp_path: Path) -> None:
    strict = start_live(
        Runtime.build(make_settings(tmp_path, fetch_allow_private=False), checks=NoChecks())
    )
    try:
        for url, code in [
            ("http://127.0.0.1:9/hook", "url_not_allowed"),
            ("http://169.254.169.254/latest", "url_not_allowed"),
            ("ftp://example.com/hook", "url_not_allowed"),
            ("not a url", "url_not_allowed"),
        ]:
            r = httpx.post(
                f"{strict.url}/api/couple_image",
                headers=strict.headers,
                files=files(),
                data={"webhook_url": url},
            )
            assert r.status_code == 400, (url, r.text)
            assert r.json()["error"]["field"] == "webhook_url"
            assert r.json()["error"]["code"] in (code, "invalid_field", "fetch_failed")
    finally:
        stop_live(strict)
