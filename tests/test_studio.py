"""The studio engine on real photos: every requested person is in the result."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.photos import load, side_by_side
from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.engines.studio import StudioEngine, cover
from twoshot.engines.studio.scene import read_prompt, render_background
from twoshot.images import encode_jpeg
from twoshot.vision import (
    SAME_PERSON,
    IdentityEvaluator,
    detect_faces,
    find_people,
    render_skeleton,
)


@pytest.fixture(scope="module")
def engine() -> StudioEngine:
    return StudioEngine()


@pytest.fixture(scope="module")
def evaluator() -> IdentityEvaluator:
    return IdentityEvaluator()


@pytest.fixture(scope="module")
def images() -> dict[str, Image.Image]:
    out = {n: load(n) for n in ("obama", "obama2", "obama3", "astronaut")}
    out["pose"] = side_by_side("astronaut", "obama3")  # two strangers to the couple's roles
    return out


def run(
    engine: StudioEngine, spec: JobSpec, images: dict[str, Image.Image]
) -> tuple[Job, Image.Image, dict]:
    job = Job("t", spec, images)
    [outcome] = engine.generate([job], lambda _f: None)
    assert outcome.error is None and outcome.image is not None
    assert outcome.image.size == (spec.width, spec.height)
    return job, outcome.image, outcome.notes


def assert_everyone_found(report: dict) -> None:
    assert report["persons"], report
    for person in report["persons"]:
        assert person["found"] and person["distance"] < SAME_PERSON, report
    assert (
        "duplicate_identity" not in report["flags"] and "missing_person" not in report["flags"]
    ), report


@pytest.mark.parametrize(
    "prompt", ["happy couple at the beach", "night city street, black and white", ""]
)
def test_couple_composite(engine, evaluator, images, prompt: str) -> None:  # type: ignore[no-untyped-def]
    job, image, notes = run(
        engine,
        JobSpec(kind="couple", male="obama2", female="astronaut", prompt=prompt, seed=4),
        images,
    )
    assert notes["mode"] == "composite"
    assert_everyone_found(evaluator(job, image))


def test_couple_female_left(engine, evaluator, images) -> None:  # type: ignore[no-untyped-def]
    spec = JobSpec(
        kind="couple",
        male="obama",
        female="astronaut",
        layout="female_left",
        seed=1,
        width=768,
        height=512,
    )
    job, image, _ = run(engine, spec, images)
    report = evaluator(job, image)
    assert_everyone_found(report)
    male, female = report["persons"]
    assert female["box"][0] < male["box"][0]


def test_couple_swap_keeps_the_pose_photo_away_from_the_faces(engine, evaluator, images) -> None:  # type: ignore[no-untyped-def]
    spec = JobSpec(kind="couple", male="obama2", female="astronaut", pose="pose", seed=1)
    job, image, notes = run(engine, spec, images)
    assert notes["mode"] == "swap"
    report = evaluator(job, image)
    assert_everyone_found(report)
    assert report["placement"]["ok"]  # the man took the left person's place
    base = cover(images["pose"], (1024, 1024)).astype(int)
    out = np.asarray(image).astype(int)
    changed = np.abs(out - base).sum(axis=2) > 0
    near_faces = np.zeros_like(changed)
    for face in detect_faces(base.astype(np.uint8)):
        x0, y0, x1, y1 = face.box
        pad = face.width // 2
        near_faces[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = True
    assert changed.any() and not (changed & ~near_faces).any()
    # and the bytes we hand out stay close to the pose photo there too
    decoded = np.asarray(Image.open(io.BytesIO(encode_jpeg(image)))).astype(int)
    assert np.abs(decoded - base)[~near_faces].mean() < 3


def test_person_portrait_picks_a_reference(engine, evaluator, images) -> None:  # type: ignore[no-untyped-def]
    spec = JobSpec(
        kind="person", references=["obama3", "obama"], prompt="outdoor portrait in a park", seed=3
    )
    job, image, notes = run(engine, spec, images)
    assert notes["mode"] == "portrait" and notes["reference_used"] in (0, 1)
    assert notes["scene"]["background"] == "park"
    assert_everyone_found(evaluator(job, image))


def test_person_onto_a_control_image(engine, evaluator, images) -> None:  # type: ignore[no-untyped-def]
    spec = JobSpec(kind="person", references=["obama"], control="astronaut", seed=3)
    job, image, notes = run(engine, spec, images)
    assert notes["mode"] == "swap"
    assert_everyone_found(evaluator(job, image))


def test_results_are_deterministic_for_a_seed(engine, images) -> None:  # type: ignore[no-untyped-def]
    spec = JobSpec(
        kind="couple",
        male="obama",
        female="astronaut",
        prompt="park",
        seed=11,
        width=512,
        height=512,
    )
    a = np.asarray(run(engine, spec, images)[1])
    b = np.asarray(run(engine, spec, images)[1])
    c = np.asarray(run(engine, spec.model_copy(update={"seed": 12}), images)[1])
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_prompt_vocabulary() -> None:
    assert read_prompt("outdoor portrait in a park").background == "park"
    assert read_prompt("studio portrait, soft lighting").background == "studio"
    scene = read_prompt("Sunset walk, warm tones")
    assert (scene.background, scene.grade, scene.words) == ("sunset", "warm", ["sunset", "warm"])
    assert read_prompt("snowy mountains in black and white").grade == "mono"
    assert read_prompt("a quantum flux capacitor").words == []
    for kind in ("beach", "park", "city", "sunset", "snow", "studio"):
        bg = render_background(read_prompt(kind), (256, 128), seed=0)
        assert bg.shape == (128, 256, 3) and 5 < bg.mean() < 250


def placed_by_pose(engine, evaluator, pose: Image.Image) -> dict:  # type: ignore[no-untyped-def]
    """A couple on this pose image, placed as it says (no swap): both found, in order."""
    images = {"m": load("obama2"), "f": load("astronaut"), "p": pose}
    job = Job(
        "t", JobSpec(kind="couple", male="m", female="f", pose="p", prompt="park", seed=1), images
    )
    [outcome] = engine.generate([job], lambda _f: None)
    assert outcome.notes["mode"] == "pose"
    report = evaluator(job, outcome.image)
    assert_everyone_found(report)
    assert report["placement"]["ok"]
    return report


def test_couple_placed_as_a_wide_pose_photo_says(engine, evaluator) -> None:  # type: ignore[no-untyped-def]
    """Faces too small to swap (a wide shot): the people are cut out and placed where the
    pose photo's people stand, left to right by layout."""
    wide = Image.new("RGB", (1024, 1024), (120, 120, 120))
    wide.paste(side_by_side("obama3", "astronaut").resize((420, 420)), (302, 604))
    placed_by_pose(engine, evaluator, wide)


def test_couple_placed_where_a_skeleton_pose_says(engine, evaluator) -> None:  # type: ignore[no-untyped-def]
    """An OpenPose-style skeleton as the pose: no faces to swap, so the people are placed at
    the skeleton's heads; here both stand in the right half of the frame."""
    two = find_people(side_by_side("obama3", "astronaut"))
    skeleton = Image.new("RGB", (1024, 1024))
    skeleton.paste(render_skeleton(two, (560, 560), (768, 768)), (440, 300))
    report = placed_by_pose(engine, evaluator, skeleton)
    for person, placed in zip(find_people(skeleton), report["persons"], strict=True):
        eyes = person.keypoints[[2, 5], :2].mean(axis=0)  # type: ignore[index]
        x0, y0, x1, y1 = placed["box"]
        assert abs((x0 + x1) / 2 - eyes[0]) < 60 and abs((y0 + y1) / 2 - eyes[1]) < 80
