"""The nudity screen and the apparent-age check (twoshot.safety): a result over the threshold
fails unsafe_content with no file, no URL and a webhook that says so; pictures over it, or
faces under the minimum age, are refused at submission and never stored; the real models
pass every test photo and gallery picture."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import Live, couple_files, make_settings, photo, start_live, stop_live
from tests.gallery import CASES, gallery_images
from tests.photos import load, side_by_side
from tests.test_webhooks import Receiver
from twoshot.config import DEFAULT_MIN_APPARENT_AGE, DEFAULT_NSFW_THRESHOLD
from twoshot.runtime import Runtime
from twoshot.safety import ContentPolicy, InputScreen, NsfwModel
from twoshot.service import NoChecks


class Injected:
    """The classifier's score and the faces' ages, as a test sets them."""

    def __init__(self) -> None:
        self.score = 0.01
        self.ages = [40.0, 40.0]

    def read_score(self, _image: object) -> float:
        return self.score

    def read_ages(self, _rgb: np.ndarray, faces_used: int) -> list[float]:
        return self.ages[:faces_used]


@pytest.fixture
def injected() -> Injected:
    return Injected()


@pytest.fixture
def screened(tmp_path: Path, injected: Injected) -> Iterator[Live]:
    policy = ContentPolicy.build(score=injected.read_score, ages=injected.read_ages)
    settings = make_settings(tmp_path, webhook_backoff=0.2)
    server = start_live(Runtime.build(settings, checks=NoChecks(), policy=policy))
    yield server
    stop_live(server)


def files(dir_: Path) -> list[Path]:
    return [p for p in dir_.rglob("*") if p.is_file()] if dir_.exists() else []


def test_a_result_over_the_threshold_fails_unsafe_content_with_nothing_served(
    screened: Live, injected: Injected
) -> None:
    receiver = Receiver()
    try:
        r = httpx.post(
            f"{screened.url}/api/couple_image",
            headers=screened.headers,
            files=couple_files(),
            data={"webhook_url": receiver.url, "prompt": "at the beach"},
        )
        assert r.status_code == 200, r.text
        task_id = r.json()["task_id"]
        injected.score = DEFAULT_NSFW_THRESHOLD + 0.01  # the engine's picture is judged unsafe
        screened.runtime.start_webhooks()
        screened.drain()
        body = httpx.get(
            f"{screened.url}/api/task-status/{task_id}", headers=screened.headers
        ).json()
        assert body["status"] == "failed" and body["image_url"] is None
        assert body["error"]["code"] == "unsafe_content"
        blobs = screened.runtime.settings.data_dir / "blobs"
        assert files(blobs / "results") == []  # never written
        assert files(blobs / "inputs") == []  # released like any ended task's
        deadline = time.time() + 15
        while len(receiver.received) < 2 and time.time() < deadline:  # the first gets a 500
            time.sleep(0.05)
        hook = json.loads(receiver.received[-1][1])
        assert hook["status"] == "failed" and hook["image_url"] is None
        assert hook["error"]["code"] == "unsafe_content"
    finally:
        receiver.close()
    usage = screened.runtime.accounts.usage(None, days=1)
    assert usage.totals()[-1]["failed"] == 1
    assert usage.refusal_totals()[-1]["unsafe_content"] == 1
    metrics = httpx.get(f"{screened.url}/metrics").text
    assert 'twoshot_policy_refusals_total{code="unsafe_content"} 1.0' in metrics
    assert 'twoshot_task_failures_total{code="unsafe_content"' in metrics

    injected.score = DEFAULT_NSFW_THRESHOLD - 0.01  # at or under the threshold: served
    r = httpx.post(
        f"{screened.url}/api/couple_image", headers=screened.headers, files=couple_files()
    )
    screened.drain()
    body = httpx.get(
        f"{screened.url}/api/task-status/{r.json()['task_id']}", headers=screened.headers
    ).json()
    assert body["status"] == "completed" and body["image_url"]
    assert body["quality"]["safety"]["nsfw"] == pytest.approx(DEFAULT_NSFW_THRESHOLD - 0.01)


def test_pictures_over_the_threshold_are_refused_at_submission_and_never_stored(
    screened: Live, injected: Injected
) -> None:
    injected.score = 0.97
    r = httpx.post(
        f"{screened.url}/api/couple_image", headers=screened.headers, files=couple_files()
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unsafe_input"
    assert r.json()["error"]["field"] in ("maleImage", "femaleImage")
    assert files(screened.runtime.settings.data_dir / "blobs") == []
    assert screened.runtime.store.count_by_status().get("queued", 0) == 0


def test_an_apparent_minor_is_refused_naming_the_field(screened: Live, injected: Injected) -> None:
    injected.ages = [DEFAULT_MIN_APPARENT_AGE - 1]
    r = httpx.post(
        f"{screened.url}/api/person_image",
        headers=screened.headers,
        files={"personImages[0]": ("p.jpg", photo("obama.jpg"), "image/jpeg")},
        data={"prompt": "studio portrait"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "apparent_minor"
    assert r.json()["error"]["field"] == "personImages[0]"
    assert "estimate" in r.json()["error"]["message"]
    # in a pose image, each of the two people who receive a face is checked
    injected.ages = [40.0, DEFAULT_MIN_APPARENT_AGE - 5]
    r = httpx.post(
        f"{screened.url}/api/couple_image",
        headers=screened.headers,
        files={
            "maleImage": ("m.jpg", photo("obama.jpg"), "image/jpeg"),
            "femaleImage": ("f.jpg", photo("astronaut.jpg"), "image/jpeg"),
            "poseImage": ("p.jpg", photo("obama3.jpg"), "image/jpeg"),
        },
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "poseImage"
    assert files(screened.runtime.settings.data_dir / "blobs") == []
    injected.ages = [DEFAULT_MIN_APPARENT_AGE, DEFAULT_MIN_APPARENT_AGE]
    ok = httpx.post(
        f"{screened.url}/api/couple_image", headers=screened.headers, files=couple_files()
    )
    assert ok.status_code == 200, ok.text
    usage = screened.runtime.accounts.usage(None, days=1)
    assert usage.refusal_totals()[-1]["apparent_minor"] == 2


def test_readyz_says_which_policy_is_in_force(screened: Live) -> None:
    policy = httpx.get(f"{screened.url}/readyz").json()["content_policy"]
    assert policy["nsfw_threshold"] == DEFAULT_NSFW_THRESHOLD
    assert policy["min_apparent_age"] == DEFAULT_MIN_APPARENT_AGE
    assert policy["screen_results"] and policy["screen_inputs"]
    assert policy["prompts"]["enabled"] and policy["prompts"]["rules"] > 100


# -- the real models on the safe set -----------------------------------------------------------


def test_the_real_classifier_scores_every_test_and_gallery_picture_under_the_default() -> None:
    from twoshot.engines import Job
    from twoshot.engines.studio import StudioEngine

    score = NsfwModel.shared()
    scores = {name: score(load(name)) for name in ("obama", "obama2", "obama3", "astronaut")}
    images = gallery_images()
    scores |= {f"input {name}": score(image) for name, image in images.items()}
    engine = StudioEngine()
    for label, spec in CASES:
        [outcome] = engine.generate([Job(label, spec, images)], lambda _f: None)
        assert outcome.image is not None
        scores[label] = score(outcome.image)
    assert max(scores.values()) < DEFAULT_NSFW_THRESHOLD, scores
    assert all(0 <= s <= 1 for s in scores.values())


def test_the_real_estimator_accepts_every_adult_test_photo() -> None:
    screen = InputScreen(None, DEFAULT_MIN_APPARENT_AGE)
    for name in ("obama", "obama2", "obama3", "astronaut"):
        screen.check(load(name), name, faces_used=1)
    screen.check(side_by_side("obama2", "astronaut"), "poseImage", faces_used=2)
