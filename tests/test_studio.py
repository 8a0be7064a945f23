"""The studio engine on real photos: every requested person is in the result."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from tests.gallery import CASES, gallery_engine, gallery_images
from tests.photos import back_view, load, side_by_side
from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.engines.studio import StudioEngine, cover
from twoshot.engines.studio.backdrop import render_background
from twoshot.engines.studio.scene import read_prompt
from twoshot.engines.studio.swap import head_and_neck
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
    near_faces = np.zeros_like(changed)  # each head and neck (its skin takes the new tone)
    for face in detect_faces(base.astype(np.uint8)):
        near_faces[head_and_neck(face, changed.shape)] = True
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
    assert read_prompt("studio portrait, soft lighting").place == "studio"
    scene = read_prompt("happy couple at the beach at sunset, warm tones")
    assert (scene.place, scene.time, scene.weather, scene.grade) == (
        "beach",
        "golden",
        "clear",
        "warm",
    )
    assert scene.words == ["beach", "sunset", "warm"]
    # a time or a weather alone is outdoors; "golden hour" is a time, not a grade
    scene = read_prompt("golden hour portrait")
    assert (scene.place, scene.time, scene.grade) == ("field", "golden", None)
    scene = read_prompt("rainy city street at night, black and white")
    assert (scene.place, scene.time, scene.weather, scene.grade) == (
        "city",
        "night",
        "rain",
        "mono",
    )
    assert read_prompt("cozy cafe").place == "room"
    assert read_prompt("a quantum flux capacitor").words == []
    report = read_prompt("beach at sunset").report(seed=1)
    assert report["light"]["kelvin"] < 4000 and report["light"]["from"] in ("left", "right")
    for prompt in ("beach", "park", "city at night", "sunset", "snow", "studio", "home", "fog"):
        bg = render_background(read_prompt(prompt), (256, 128), seed=0)
        assert bg.shape == (128, 256, 3) and 5 < bg.mean() < 250


def test_scene_light_reaches_the_people(engine, images) -> None:  # type: ignore[no-untyped-def]
    """The same couple at noon and at sunset: warmer (more red than blue) at sunset, darker
    at night, on the people themselves, not only behind them."""
    tone = {}
    for prompt in ("beach at noon", "beach at sunset", "beach at night"):
        spec = JobSpec(kind="couple", male="obama", female="astronaut", prompt=prompt, seed=2)
        image = np.asarray(run(engine, spec, images)[1])
        boxes = [f.box for f in detect_faces(image)]
        pixels = np.concatenate([image[y0:y1, x0:x1].reshape(-1, 3) for x0, y0, x1, y1 in boxes])
        tone[prompt] = pixels.astype(float).mean(axis=0)
    noon, sunset, night = tone["beach at noon"], tone["beach at sunset"], tone["beach at night"]
    assert sunset[0] / sunset[2] > noon[0] / noon[2] * 1.1
    assert night.mean() < noon.mean() * 0.8


def test_every_gallery_picture_shows_everyone(evaluator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The README gallery: the evaluator finds each person (distance < 0.6) in each."""
    images, engine = gallery_images(), gallery_engine(tmp_path)
    for label, spec in CASES:
        job, image, notes = run(engine, spec, images)
        assert notes["mode"] != "composite" or not spec.pose, label
        assert_everyone_found(evaluator(job, image))


def test_couple_placed_as_a_back_view_says(engine, evaluator) -> None:  # type: ignore[no-untyped-def]
    """Two people seen from behind: no faces to swap, no pose the model reads; the couple
    stands where their heads are."""
    report = placed_by_pose(engine, evaluator, back_view())
    for person, (x0, x1) in zip(report["persons"], [(120, 330), (380, 700)], strict=True):
        cx = (person["box"][0] + person["box"][2]) / 2 * 768 / 1024
        assert x0 < cx < x1, report


def placed_by_pose(engine, evaluator, pose: Image.Image) -> dict:  # type: ignore[no-untyped-def]
    """A couple on this pose image, placed as it says (no swap): both found, in order."""
    # inputs are cached by blob key, which is the content's hash: so here too
    key = hashlib.sha256(pose.tobytes()).hexdigest()
    images = {"m": load("obama2"), "f": load("astronaut"), key: pose}
    job = Job(
        "t", JobSpec(kind="couple", male="m", female="f", pose=key, prompt="park", seed=1), images
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
