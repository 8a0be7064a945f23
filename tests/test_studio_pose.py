"""Pose photos done right: who is who, both people whole and apart, what was done said in
``quality``, pose images read once."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from tests.photos import load, portraits, side_by_side
from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.engines.studio import StudioEngine
from twoshot.vision import SAME_PERSON, IdentityEvaluator, Models
from twoshot.vision import poses as poses_module
from twoshot.vision.poses import PoseReader
from twoshot.vision.who import who_is_who


@pytest.fixture(scope="module")
def engine() -> StudioEngine:
    return StudioEngine()


@pytest.fixture(scope="module")
def evaluator() -> IdentityEvaluator:
    return IdentityEvaluator()


def couple(engine, evaluator, pose: Image.Image, **spec) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """obama (the man) and astronaut (the woman) on ``pose``: the notes and the report."""
    key = hashlib.sha256(pose.tobytes()).hexdigest()  # blob keys are content hashes
    images = {"m": load("obama"), "f": load("astronaut"), key: pose}
    job = Job("t", JobSpec(kind="couple", male="m", female="f", pose=key, seed=1, **spec), images)
    [outcome] = engine.generate([job], lambda _f: None)
    assert outcome.error is None and outcome.image is not None
    return outcome.notes, evaluator(job, outcome.image)


def faces_left_to_right(report: dict) -> list[str]:
    for person in report["persons"]:
        assert person["found"] and person["distance"] < SAME_PERSON, report
    found = sorted(report["persons"], key=lambda p: p["box"][0])
    return [p["role"] for p in found]


@pytest.mark.parametrize(("left", "right"), [("astronaut", "obama3"), ("obama3", "astronaut")])
def test_each_reference_goes_on_its_own_person(engine, evaluator, left, right) -> None:  # type: ignore[no-untyped-def]
    """A pose photo of a woman and a man, in both orders: the man's face lands on the man,
    whichever side he stands (the old engine put it on the left person)."""
    notes, report = couple(engine, evaluator, side_by_side(left, right))
    assert notes["mode"] == "swap", notes
    expected = ["female", "male"] if left == "astronaut" else ["male", "female"]
    assert notes["assignment"]["order"] == expected
    assert notes["assignment"]["by"] == "gender"
    assert faces_left_to_right(report) == expected
    assert report["placement"] == {"expected": expected, "ok": True}
    for i, person in enumerate(notes["people"]):
        assert person["role"] == expected[i] and person["pose_slot"] == i
        x0, y0, x1, y1 = person["face"]
        assert 0 <= x0 < x1 <= 1024 and 0 <= y0 < y1 <= 1024
    assert notes["why"]


def test_an_explicit_layout_overrides(engine, evaluator) -> None:  # type: ignore[no-untyped-def]
    """Same-gender couples (or a caller who knows better) decide with ``layout``."""
    notes, report = couple(
        engine, evaluator, side_by_side("astronaut", "obama3"), layout="male_left"
    )
    assert notes["assignment"] == {
        "order": ["male", "female"],
        "by": "layout",
        "slots": {"male": 0, "female": 1},
    }
    assert faces_left_to_right(report) == ["male", "female"]


@pytest.mark.parametrize(("left", "right"), [("astronaut", "obama3"), ("obama3", "astronaut")])
def test_two_close_up_portraits_stay_whole_and_apart(engine, evaluator, left, right) -> None:  # type: ignore[no-untyped-def]
    """Two head-and-shoulder portraits side by side in a wide photo: a square crop would cut
    them, so they are composited as the pose says, each whole, neither over the other's
    face (the old engine scaled the man up over the woman and smeared his last rows)."""
    notes, report = couple(engine, evaluator, portraits(left, right))
    assert notes["mode"] == "pose" and "fit" in notes["why"], notes
    expected = ["female", "male"] if left == "astronaut" else ["male", "female"]
    assert faces_left_to_right(report) == expected
    a, b = (p["box"] for p in report["persons"])
    assert a[2] <= b[0] or b[2] <= a[0], report  # the two faces do not overlap
    for person in notes["people"]:  # the placed faces lie inside the frame
        x0, y0, x1, _ = person["face"]
        assert x0 > 0 and x1 < 1024 and y0 > 0


def test_pose_images_are_read_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A batch sharing a pose image pays for reading it once (per output size)."""
    calls = []
    real = poses_module.find_people
    monkeypatch.setattr(
        poses_module, "find_people", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    reader = PoseReader(Models.shared())
    pose = side_by_side("obama3", "astronaut")
    first = reader.get("k", pose, (512, 512), 2)
    assert reader.get("k", pose, (512, 512), 2) is first and len(calls) == 1
    assert len(first.people) == 2 and first.whole and first.frame.shape == (512, 512, 3)
    reader.get("k", pose, (768, 512), 2)
    assert len(calls) == 2
    # the engines of all worker threads and the evaluator share one reader
    models = Models.shared()
    assert PoseReader.of(models) is PoseReader.of(models) is not reader


def test_descriptor_distance_decides_when_no_gender_estimate_does() -> None:
    """Without (or with unsure) gender estimates, the references go where their faces'
    descriptors are nearest; with no faces at all, the man stands left."""
    reader = PoseReader(Models.shared())
    man, woman = (
        reader.get(n, load(n), (512, 512), 1).people[0].face.descriptor  # type: ignore[union-attr]
        for n in ("obama", "astronaut")
    )
    for left, right, slots in (("astronaut", "obama3", (1, 0)), ("obama3", "astronaut", (0, 1))):
        read = reader.get(left + right, side_by_side(left, right), (512, 512), 2)
        assert [e.gender for e in read.estimates if e] == [
            "female" if left == "astronaut" else "male",
            "male" if left == "astronaut" else "female",
        ]
        assert who_is_who(None, [man, woman], read.descriptors).slots == slots
        assert who_is_who(None, [man, woman], read.descriptors, [None, None]).method == (
            "descriptor"
        )
    unknown = who_is_who(None, [man, woman], [None, None])
    assert (unknown.slots, unknown.method) == ((0, 1), "default")
    assert who_is_who("female_left", [man, woman], [man, woman]).slots == (1, 0)


def test_a_turned_face_is_composited_not_swapped() -> None:
    """Before swapping, the target face must be frontal enough: a face turned away (its nose
    far from the eyes' middle) makes the engine place the people instead, and say why."""
    import numpy as np

    from twoshot.engines.studio.posed import swap_targets
    from twoshot.vision import Face
    from twoshot.vision.body import Person
    from twoshot.vision.poses import PoseRead
    from twoshot.vision.who import frontal_enough, yaw

    def face(x: float, nose_shift: float) -> Face:
        # dlib's 5 points: two corners of each eye, then the nose's base
        marks = [(x + 10, 60), (x + 30, 60), (x + 70, 60), (x + 90, 60), (x + 50 + nose_shift, 95)]
        return Face((int(x), 20, int(x) + 110, 140), 0.9, "mediapipe", np.float32(marks))

    frontal, turned = face(100, 2), face(400, 40)
    assert frontal_enough(frontal) and yaw(frontal) < 0.05
    assert not frontal_enough(turned) and yaw(turned) > 0.6
    people = [Person(f.box, None, f) for f in (frontal, turned)]
    read = PoseRead(np.zeros((600, 600, 3), np.uint8), people, True, [None, None])
    faces, why = swap_targets(read, 2)
    assert faces is None and "turned away" in why
    read.people[1] = Person(face(400, -3).box, None, face(400, -3))
    faces, why = swap_targets(read, 2)
    assert faces is not None and len(faces) == 2, why


def test_a_head_the_pose_puts_off_the_frame_is_brought_in(engine, evaluator) -> None:  # type: ignore[no-untyped-def]
    """Two portraits turned on their side: the pose model puts one head near the bottom
    edge; the person is still placed whole inside the frame, and both are found."""
    notes, report = couple(
        engine, evaluator, portraits("obama3", "astronaut").rotate(90, expand=True)
    )
    assert notes["mode"] == "pose"
    faces_left_to_right(report)
    for person in notes["people"]:
        x0, y0, x1, y1 = person["face"]
        assert 0 <= x0 < x1 <= 1024 and 0 <= y0 < y1 <= 1024
