"""The README gallery's cases: every studio mode and pose kind, on scenes from single and
combined prompts. ``bench/gallery.py`` draws them; ``tests/test_studio.py`` checks that
the evaluator finds everyone in each."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from PIL import Image

from tests.photos import back_view, load, portraits, side_by_side, skeleton_pose
from twoshot.domain import JobSpec
from twoshot.engines.studio import StudioEngine

CASES: list[tuple[str, JobSpec]] = [
    (
        "couple · beach at sunset",
        JobSpec(
            kind="couple",
            male="obama",
            female="astronaut",
            prompt="happy couple at the beach at sunset",
            seed=1,
        ),
    ),
    (
        "couple · park",
        JobSpec(
            kind="couple", male="obama2", female="astronaut", prompt="walk in the park", seed=2
        ),
    ),
    (
        "couple · city at night",
        JobSpec(kind="couple", male="obama3", female="astronaut", prompt="city at night", seed=3),
    ),
    (
        "couple · living room, female_left",
        JobSpec(
            kind="couple",
            male="obama",
            female="astronaut",
            prompt="cozy living room",
            layout="female_left",
            seed=4,
        ),
    ),
    (
        "couple · photo pose, woman left (swap)",
        JobSpec(kind="couple", male="obama", female="astronaut", pose="pose", seed=6),
    ),
    (
        "couple · close-up portraits, woman left",
        JobSpec(kind="couple", male="obama", female="astronaut", pose="portraits_wm", seed=6),
    ),
    (
        "couple · close-up portraits, man left",
        JobSpec(kind="couple", male="obama", female="astronaut", pose="portraits_mw", seed=6),
    ),
    (
        "couple · scene pack: meadow at sunset",
        JobSpec(
            kind="couple", male="obama2", female="astronaut", prompt="meadow at sunset", seed=10
        ),
    ),
    (
        "couple · template scene: garden party",
        JobSpec(kind="couple", male="obama", female="astronaut", prompt="garden party", seed=11),
    ),
    (
        "couple · skeleton pose, snowy mountains",
        JobSpec(
            kind="couple",
            male="obama",
            female="astronaut",
            pose="skeleton",
            prompt="snowy mountains",
            seed=5,
        ),
    ),
    (
        "couple · back-view pose, foggy field",
        JobSpec(
            kind="couple",
            male="obama",
            female="astronaut",
            pose="back",
            prompt="foggy morning in a field",
            seed=7,
        ),
    ),
    (
        "person · studio portrait",
        JobSpec(kind="person", references=["obama", "obama2"], prompt="studio portrait", seed=8),
    ),
    (
        "person · swap onto control",
        JobSpec(kind="person", references=["obama"], control="astronaut", seed=9),
    ),
]


def gallery_images() -> dict[str, Image.Image]:
    images = {n: load(n) for n in ("obama", "obama2", "obama3", "astronaut")}
    images["pose"] = side_by_side("astronaut", "obama3")
    images["skeleton"] = skeleton_pose()
    images["back"] = back_view()
    images["portraits_wm"] = portraits("astronaut", "obama3")
    images["portraits_mw"] = portraits("obama3", "astronaut")
    return images


def gallery_engine(folder: Path) -> StudioEngine:
    """The studio engine with the default scene pack and an operator's ``folder`` holding
    one template: a couple in a garden (the man left), whose faces are swapped."""
    side_by_side("obama3", "astronaut").save(folder / "garden-couple.jpg", quality=92)
    tags = {"places": ["park"], "couple": True, "tags": ["garden party"], "licence": "CC0-1.0"}
    (folder / "garden-couple.json").write_text(json.dumps(tags))
    return StudioEngine(SimpleNamespace(scenes=folder, default_scenes=True))
