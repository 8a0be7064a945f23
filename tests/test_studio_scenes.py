"""Scene packs: real photographs as scenes, picked by the prompt; an empty scene gets the
people composited into it, a photo holding a couple is a template whose faces are swapped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.photos import load, side_by_side
from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.engines.studio import StudioEngine
from twoshot.engines.studio.photos import DEFAULT_PACK, ScenePacks, load_pack
from twoshot.engines.studio.scene import read_prompt
from twoshot.vision import SAME_PERSON, IdentityEvaluator


def sidecar(folder: Path, name: str, **tags: object) -> None:
    (folder / f"{name}.json").write_text(json.dumps({"licence": "CC0-1.0", **tags}))


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An operator's folder: a template (a couple in a park, woman left) and an empty
    night street that is not the default pack's."""
    folder = tmp_path_factory.mktemp("scenes")
    side_by_side("astronaut", "obama3").save(folder / "park-couple.jpg", quality=92)
    sidecar(folder, "park-couple", places=["park"], couple=True, tags=["picnic"])
    Image.new("RGB", (900, 600), (30, 30, 60)).save(folder / "street.png")
    sidecar(folder, "street", places=["city"], times=["night"])
    return folder


@pytest.fixture(scope="module")
def engine(pack: Path) -> StudioEngine:
    return StudioEngine(SimpleNamespace(scenes=pack, default_scenes=True))


def couple(engine: StudioEngine, prompt: str) -> tuple[dict, dict]:
    images = {"m": load("obama"), "f": load("astronaut")}
    job = Job("t", JobSpec(kind="couple", male="m", female="f", prompt=prompt, seed=3), images)
    [outcome] = engine.generate([job], lambda _f: None)
    assert outcome.error is None and outcome.image is not None
    report = IdentityEvaluator()(job, outcome.image)
    for person in report["persons"]:
        assert person["found"] and person["distance"] < SAME_PERSON, report
    assert "duplicate_identity" not in report["flags"]
    return outcome.notes, report


def test_prompt_words_pick_the_photo(pack: Path) -> None:
    packs = ScenePacks(pack)
    pick = lambda prompt: packs.pick(read_prompt(prompt), prompt, 1)  # noqa: E731
    assert pick("picnic in the park").name == "park-couple"  # type: ignore[union-attr]
    assert pick("walk in the park") is None  # a template only when one of its tags is named
    assert pick("city at night").name == "street"  # type: ignore[union-attr]
    assert pick("meadow at sunset").name == "meadow-sunset"  # type: ignore[union-attr]
    assert pick("city street at noon") is None  # a day prompt never gets a night photo
    assert pick("beach at sunset") is None and pick("") is None  # procedural
    assert [p.name for p in load_pack(DEFAULT_PACK)] == ["meadow-sunset"]
    assert all(p.licence in ("CC0-1.0", "public domain") for p in load_pack(DEFAULT_PACK))
    assert (DEFAULT_PACK / "ATTRIBUTION.md").is_file()
    for photo in DEFAULT_PACK.glob("*.jpg"):  # the shipped pack stays small
        assert photo.stat().st_size < 400_000


def test_a_template_scene_swaps_both_faces_onto_the_right_people(engine: StudioEngine) -> None:
    notes, report = couple(engine, "picnic in the park")
    assert notes["scene"]["photo"] == "park-couple" and notes["scene"]["template"]
    assert notes["mode"] == "swap"
    assert notes["assignment"]["order"] == ["female", "male"]  # she stands left in it
    found = sorted(report["persons"], key=lambda p: p["box"][0])
    assert [p["role"] for p in found] == ["female", "male"]


def test_an_empty_scene_gets_both_people_composited(engine: StudioEngine) -> None:
    notes, report = couple(engine, "a walk in the meadow at sunset")
    assert notes["scene"]["photo"] == "meadow-sunset" and not notes["scene"]["template"]
    assert notes["mode"] == "composite"
    assert notes["scene"]["light"]["from"] == "right" and notes["scene"]["light"]["kelvin"] < 4000
    a, b = (p["box"] for p in report["persons"])
    assert a[2] <= b[0] or b[2] <= a[0], report
    # a prompt no photo fits keeps the procedural scene
    notes, _ = couple(engine, "beach at noon")
    assert "photo" not in notes["scene"] and notes["scene"]["place"] == "beach"


def test_scenes_command_adds_lists_and_removes(tmp_path: Path) -> None:
    env = {**os.environ, "TWOSHOT_SCENES": str(tmp_path / "mine")}
    twoshot = [sys.executable, "-m", "twoshot", "scenes"]
    photo = tmp_path / "beach.png"
    Image.new("RGB", (3000, 1500), (200, 180, 120)).save(photo)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*twoshot, *args], env=env, capture_output=True, text=True)

    added = run("add", str(photo), "--place", "beach", "--time", "golden", "--licence", "CC0-1.0")
    assert added.returncode == 0, added.stderr
    with Image.open(tmp_path / "mine" / "beach.jpg") as stored:
        assert max(stored.size) == 2048
    listing = run("list").stdout
    assert "beach  scene  places=beach  times=golden" in listing and "meadow-sunset" in listing
    bad = run("add", str(photo), "--place", "moon", "--licence", "CC0-1.0")
    assert bad.returncode != 0 and "unknown place 'moon'" in bad.stderr
    assert run("remove", "beach").returncode == 0
    assert not (tmp_path / "mine" / "beach.json").exists()
    assert run("remove", "beach").returncode != 0
