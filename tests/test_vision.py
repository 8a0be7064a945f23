"""twoshot.vision on real photos."""

from __future__ import annotations

import io

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import Live
from tests.photos import back_view, blank, load, side_by_side, tiled_faces, tiny_face
from twoshot.vision import (
    SAME_PERSON,
    Identity,
    IdentityEvaluator,
    detect_faces,
    distance,
    evaluate,
    face_mesh,
    find_people,
    halo,
    person_matte,
    reference_descriptor,
    render_skeleton,
    segmentation,
    similarity,
)
from twoshot.vision.body import read_skeletons


@pytest.fixture(scope="module")
def descriptors() -> dict[str, np.ndarray]:
    out = {}
    for name in ("obama", "obama2", "obama3", "astronaut"):
        d = reference_descriptor(load(name))
        assert d is not None and d.shape == (128,)
        out[name] = d
    return out


def test_same_man_matches_and_man_and_woman_do_not(descriptors: dict[str, np.ndarray]) -> None:
    assert distance(descriptors["obama"], descriptors["obama2"]) < SAME_PERSON
    assert distance(descriptors["obama"], descriptors["obama3"]) < SAME_PERSON
    for man in ("obama", "obama2", "obama3"):
        assert distance(descriptors[man], descriptors["astronaut"]) > SAME_PERSON + 0.1
    assert (
        similarity(0.3) > 0.95 and similarity(0.6) == pytest.approx(0.5) and similarity(0.85) < 0.05
    )


def test_two_person_image_is_matched(descriptors: dict[str, np.ndarray]) -> None:
    couple = side_by_side("obama2", "astronaut")
    ids = [Identity("male", descriptors["obama"]), Identity("female", descriptors["astronaut"])]
    report = evaluate(couple, ids, expected_order=["male", "female"])
    assert report["faces"] == 2 and report["flags"] == []
    male, female = report["persons"]
    assert male["found"] and female["found"]
    assert male["box"][0] < female["box"][0]  # the man is the one on the left
    assert 0 < male["distance"] < SAME_PERSON and male["similarity"] > 0.5
    assert report["placement"] == {"expected": ["male", "female"], "ok": True}
    swapped = evaluate(couple, ids, expected_order=["female", "male"])
    assert "misplaced" in swapped["flags"]


def test_both_halves_the_same_person_is_duplicate_identity(
    descriptors: dict[str, np.ndarray],
) -> None:
    same = side_by_side("obama", "obama2")
    ids = [Identity("male", descriptors["obama"]), Identity("female", descriptors["astronaut"])]
    report = evaluate(same, ids)
    assert "duplicate_identity" in report["flags"] and "missing_person" in report["flags"]


def test_missing_and_extra_faces(descriptors: dict[str, np.ndarray]) -> None:
    report = evaluate(
        load("obama"),
        [Identity("male", descriptors["obama"]), Identity("female", descriptors["astronaut"])],
    )
    assert report["faces"] == 1 and "missing_person" in report["flags"]
    report = evaluate(tiled_faces("obama"), [Identity("person", descriptors["obama"])])
    assert "extra_faces" in report["flags"] and report["persons"][0]["found"]


def test_detection_landmarks_mesh() -> None:
    faces = detect_faces(load("obama"))
    assert len(faces) == 1 and faces[0].width > 100
    assert detect_faces(blank()) == []
    small = detect_faces(tiny_face())
    assert len(small) == 1 and min(small[0].width, small[0].height) < 64
    [mesh] = face_mesh(load("obama"))
    assert mesh.shape == (478, 2)


def test_people_pose_and_skeleton() -> None:
    [one] = find_people(load("obama3"))
    assert one.keypoints is not None and one.keypoints.shape == (33, 3)
    two = find_people(side_by_side("astronaut", "obama3"))
    assert len(two) == 2 and two[0].center_x < two[1].center_x
    assert two[0].face is not None and two[0].face.center[0] < 384  # the astronaut is on the left
    skeleton = np.asarray(render_skeleton(two, (512, 512), (768, 768)))
    assert skeleton.shape == (512, 512, 3) and (skeleton.sum(axis=2) > 0).mean() > 0.005
    assert find_people(blank()) == []


def test_a_skeleton_image_is_read_back_as_people() -> None:
    """An OpenPose-style skeleton (ours, as ControlNet tools draw it), even as a JPEG: the same
    two people, their joints where they were drawn."""
    two = find_people(side_by_side("astronaut", "obama3"))
    skeleton = render_skeleton(two, (768, 768))
    again = find_people(Image.open(io.BytesIO(jpeg(skeleton))).convert("RGB"))
    assert len(again) == 2
    for before, after in zip(two, again, strict=True):
        a, b = before.openpose(), after.openpose()
        assert a is not None and b is not None
        both = (a[:, 2] > 0.5) & (b[:, 2] > 0)
        assert both.sum() >= 10
        error = np.abs(a[both, :2] - b[both, :2]).max(axis=1)
        # a dot cut by the frame's edge (a knee, here) reads a few px off its centre
        assert float(np.median(error)) < 1.5 and float(error.max()) < 6.0
    assert read_skeletons(np.asarray(load("obama"))) is None  # a photo is not a skeleton
    assert find_people(blank()) == []  # nor is black


def _cut_out_before(rgb: np.ndarray) -> np.ndarray:
    """The studio engine's cut-out before mattes (kept here as the halo test's baseline):
    the segmentation mask refined by a guided filter and steepened."""
    mask = segmentation(rgb)
    radius = max(2, round(max(rgb.shape[:2]) * 0.008))
    refined = cv2.ximgproc.guidedFilter(
        guide=rgb.astype(np.float32) / 255, src=mask, radius=radius, eps=1e-3
    )
    return np.clip((refined - 0.5) * 1.6 + 0.5, 0, 1).astype(np.float32)


def test_mattes_have_no_halo() -> None:
    """Each test photo's person pasted onto near-black: the band just inside the matte's
    edge is brighter than the person further in by (mean luminance, 0–255) ``halo``. The
    matte with cleaned edge colours must beat the old cut-out on every photo."""
    before, after = [], []
    for name in ("obama", "obama2", "obama3", "astronaut"):
        rgb = np.asarray(load(name))
        matte = person_matte(rgb, face_center=detect_faces(rgb)[0].center)
        before.append(halo(rgb, _cut_out_before(rgb)))
        after.append(halo(matte.foreground, matte.alpha))
        assert matte.alpha.dtype == np.float32 and matte.alpha.shape == rgb.shape[:2]
        assert ((matte.alpha > 0.02) & (matte.alpha < 0.98)).mean() > 0.001  # soft, not binary
    print("halo before", np.round(before, 1), "after", np.round(after, 1))
    assert all(a < b for a, b in zip(after, before, strict=True))
    assert np.mean(after) < 0.6 * np.mean(before)


def test_matte_leaves_out_the_podium() -> None:
    """obama2 speaks at a podium the segmentation model counts as him: the matte ends at the
    podium's top edge, and the rest of the photos keep their bodies to the bottom."""
    rgb = np.asarray(load("obama2"))
    matte = person_matte(rgb, face_center=detect_faces(rgb)[0].center)
    assert 0.85 * rgb.shape[0] < matte.bottom < 0.95 * rgb.shape[0]
    assert matte.alpha[matte.bottom + 2 :].max() == 0
    for name in ("obama", "astronaut"):
        other = np.asarray(load(name))
        assert person_matte(other).bottom == other.shape[0] - 1


def test_people_seen_from_behind_are_found() -> None:
    """No face and no readable pose: the silhouettes' heads place the people."""
    image = back_view()
    assert detect_faces(image) == []
    people = find_people(image)
    assert len(people) == 2 and all(p.head is not None for p in people)
    for person, (x0, x1) in zip(people, [(160, 290), (420, 650)], strict=True):
        cx, top, width = person.head  # type: ignore[misc]
        assert x0 < cx < x1 and top < 120 and 60 < width < 260


def test_evaluator_caches_reference_descriptors() -> None:
    from twoshot.domain import JobSpec
    from twoshot.engines import Job

    ev = IdentityEvaluator()
    images = {"m": load("obama"), "f": load("astronaut")}
    job = Job("t", JobSpec(kind="couple", male="m", female="f"), images)
    ev(job, side_by_side("obama2", "astronaut"))
    assert set(ev._cache) == {"m", "f"}


# -- through the HTTP API ------------------------------------------------------------------


def jpeg(image) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png(image) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def checked(tmp_path):  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings, start_live, stop_live
    from twoshot.runtime import Runtime

    server = start_live(Runtime.build(make_settings(tmp_path, engine="studio")))
    yield server
    stop_live(server)


@pytest.mark.parametrize(
    ("make", "code"),
    [(blank, "no_face_detected"), (tiled_faces, "multiple_faces"), (tiny_face, "face_too_small")],
    ids=["no_face", "group", "tiny"],
)
def test_reference_checks_through_the_api(checked: Live, make, code: str) -> None:  # type: ignore[no-untyped-def]
    files = {
        "maleImage": ("m.jpg", jpeg(load("obama")), "image/jpeg"),
        "femaleImage": ("f.jpg", jpeg(make()), "image/jpeg"),
    }
    r = httpx.post(
        f"{checked.url}/api/couple_image", headers=checked.headers, files=files, timeout=30
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["field"] == "femaleImage" and "femaleImage" in err["message"]
    batch = {
        "femaleImages": [
            "data:image/jpeg;base64," + __import__("base64").b64encode(jpeg(make())).decode()
        ],
        "maleImages": [
            "data:image/jpeg;base64," + __import__("base64").b64encode(jpeg(load("obama"))).decode()
        ],
        "items": [{"femaleIndex": 0, "maleIndex": 0, "prompt": "x"}],
    }
    r = httpx.post(
        f"{checked.url}/api/couple_image/batch", headers=checked.headers, json=batch, timeout=30
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "femaleImages[0]"


def test_dominant_face_is_accepted_and_faceless_pose_is_refused(checked: Live) -> None:
    group = load("obama").copy()
    group.paste(load("astronaut").resize((90, 90)), (0, 0))  # a small bystander in the corner
    files = {
        "maleImage": ("m.jpg", jpeg(group), "image/jpeg"),
        "femaleImage": ("f.jpg", jpeg(load("astronaut")), "image/jpeg"),
    }
    assert (
        httpx.post(
            f"{checked.url}/api/couple_image", headers=checked.headers, files=files, timeout=30
        ).status_code
        == 200
    )
    files["poseImage"] = ("p.jpg", jpeg(blank()), "image/jpeg")
    r = httpx.post(
        f"{checked.url}/api/couple_image", headers=checked.headers, files=files, timeout=30
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_person_detected"
    two = find_people(side_by_side("astronaut", "obama3"))
    files["poseImage"] = ("p.png", png(render_skeleton(two, (768, 768))), "image/png")
    r = httpx.post(
        f"{checked.url}/api/couple_image", headers=checked.headers, files=files, timeout=30
    )
    assert r.status_code == 200, r.text  # a skeleton is a pose


def test_completed_task_shows_quality_for_every_person(checked: Live) -> None:
    files = {
        "maleImage": ("m.jpg", jpeg(load("obama")), "image/jpeg"),
        "femaleImage": ("f.jpg", jpeg(load("astronaut")), "image/jpeg"),
    }
    task_id = httpx.post(
        f"{checked.url}/api/couple_image", headers=checked.headers, files=files, timeout=30
    ).json()["task_id"]
    from twoshot.engines import load_engine
    from twoshot.runtime import default_evaluator

    rt = checked.runtime
    rt.make_worker(load_engine("studio", rt.settings), default_evaluator()).run(burst=True)
    body = httpx.get(f"{checked.url}/api/task-status/{task_id}", headers=checked.headers).json()
    assert body["status"] == "completed", body
    quality = body["quality"]
    assert [p["role"] for p in quality["persons"]] == ["male", "female"]
    assert all(p["found"] and p["distance"] < SAME_PERSON for p in quality["persons"])
    assert quality["flags"] == [] and quality["scene"]["background"] == "studio"
