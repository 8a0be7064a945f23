"""Scene packs: real photographs as scenes, picked by the prompt's place, time and weather.

A pack is a folder of photos, each with a sidecar ``<name>.json`` of tags and licence::

    {"title": "Dandelions at sunset", "places": ["field"], "times": ["golden"],
     "weathers": ["clear"], "tags": ["meadow", "dandelion"], "licence": "CC0-1.0",
     "author": "…", "source": "…", "couple": false,
     "horizon": 0.1, "light": {"from": "right", "kelvin": 3000}}

``places``, ``times`` and ``weathers`` use the names of ``scene.py``'s vocabulary. ``horizon``
(a fraction of the height) and ``light`` are optional: what is missing is read from the photo.
A photo with ``"couple": true`` is a template: it already holds a couple, whose faces are
swapped (who is who as ``vision.who`` says); a prompt must name one of its tags. Operators
point ``TWOSHOT_SCENES`` at their own folder; twoshot ships a small default pack (CC0
photos only, see its ``ATTRIBUTION.md``).
A prompt no photo fits keeps the procedural scene.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from twoshot.engines.studio.light import Light
from twoshot.engines.studio.scene import Scene
from twoshot.vision.poses import scaled_to_cover

DEFAULT_PACK = Path(__file__).parent / "default_scenes"
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class ScenePhoto:
    path: Path
    title: str = ""
    places: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    weathers: tuple[str, ...] = ("clear",)
    tags: tuple[str, ...] = ()
    licence: str = ""
    author: str = ""
    source: str = ""
    couple: bool = False
    horizon: float | None = None
    light: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def key(self) -> str:
        """A content key (as blob keys are): the photo's bytes' hash."""
        return "scene:" + hashlib.sha256(self.path.read_bytes()).hexdigest()

    def open(self) -> Image.Image:
        with Image.open(self.path) as image:
            return image.convert("RGB")

    def report(self) -> dict[str, Any]:
        return {
            "photo": self.name,
            "title": self.title,
            "licence": self.licence,
            "author": self.author,
            "template": self.couple,
        }


def read_sidecar(photo: Path) -> ScenePhoto:
    data = json.loads(photo.with_suffix(".json").read_text())
    as_tuple = lambda k, d=(): tuple(str(x) for x in data.get(k, d))  # noqa: E731
    return ScenePhoto(
        photo,
        title=str(data.get("title", "")),
        places=as_tuple("places"),
        times=as_tuple("times"),
        weathers=as_tuple("weathers", ("clear",)),
        tags=tuple(t.lower() for t in as_tuple("tags")),
        licence=str(data.get("licence", "")),
        author=str(data.get("author", "")),
        source=str(data.get("source", "")),
        couple=bool(data.get("couple", False)),
        horizon=None if data.get("horizon") is None else float(data["horizon"]),
        light=dict(data.get("light") or {}),
    )


def load_pack(folder: Path) -> list[ScenePhoto]:
    """Every photo in ``folder`` that has a sidecar, by name."""
    if not folder.is_dir():
        return []
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    return [read_sidecar(p) for p in photos if p.with_suffix(".json").is_file()]


def pick(scene: Scene, prompt: str, photos: list[ScenePhoto], seed: int) -> ScenePhoto | None:
    """The photo that fits the prompt best, or None. A photo must be of the prompt's place,
    and of its time and weather where the prompt names them (a night prompt never gets a
    day photo); its own tags named in the prompt count too. A template (a photo holding a
    couple) must also be named by one of its tags. Ties go by the seed."""
    text = prompt.lower()
    if not scene.words:
        return None  # nothing asked for: the procedural default (a studio)
    named = set(scene.words)
    best: list[tuple[float, ScenePhoto]] = []
    for photo in photos:
        if scene.place not in photo.places:
            continue
        if scene.time not in (photo.times or ("day",)):
            continue
        if scene.weather not in photo.weathers:
            continue
        named_tags = sum(1.0 for t in photo.tags if t in text or t in named)
        if photo.couple and not named_tags:
            continue  # a template replaces the people's bodies: only when asked for by name
        best.append((4.0 + named_tags, photo))
    if not best:
        return None
    top = max(s for s, _ in best)
    ties = [p for s, p in best if s == top]
    return ties[np.random.default_rng(seed).integers(len(ties))]


def read_light(rgb: np.ndarray, photo: ScenePhoto) -> Light:
    """The photo's light: from its sidecar where given, else read from the picture: the side
    its brightest part is on, the colour of that light (red over blue), how hard it is (the
    picture's contrast) and the picture's brightness."""
    small = cv2.resize(
        rgb, (96, max(1, 96 * rgb.shape[0] // rgb.shape[1])), interpolation=cv2.INTER_AREA
    )
    f = small.astype(np.float32)
    lum = f @ np.array([0.299, 0.587, 0.114], np.float32)
    bright = lum >= np.percentile(lum, 97)
    xs = np.nonzero(bright)[1]
    side = 1.0 if xs.mean() >= small.shape[1] / 2 else -1.0
    r, b = f[bright][:, 0].mean() + 1, f[bright][:, 2].mean() + 1
    warmth = r / b
    kelvin = 2900 if warmth > 1.4 else 3800 if warmth > 1.15 else 5600 if warmth > 0.95 else 7000
    given = photo.light
    if "from" in given:
        side = -1.0 if given["from"] == "left" else 1.0
    kelvin = int(given.get("kelvin", kelvin))
    hardness = float(given.get("hardness", np.clip(lum.std() / (lum.mean() + 1) * 1.6, 0.15, 0.9)))
    rim = 0.9 if kelvin < 3500 else 0.4 if kelvin < 5000 else 0.25
    return Light(side, kelvin, hardness, rim, float(lum.mean()))


def read_horizon(rgb: np.ndarray, photo: ScenePhoto) -> float:
    """The horizon as a fraction of the height: from the sidecar, else the row where the
    rows' mean brightness changes most (sky above, ground below) in the upper two thirds."""
    if photo.horizon is not None:
        return photo.horizon
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    rows = cv2.GaussianBlur(gray.mean(axis=1)[:, None], (1, 0), 3)[:, 0]
    span = max(3, int(len(rows) * 0.66))
    step = np.abs(np.diff(rows[:span]))
    return float(np.argmax(step) + 1) / len(rows)


class ScenePacks:
    """The operator's folder (``TWOSHOT_SCENES``), then the default pack; photos decoded and
    framed once per size."""

    def __init__(self, folder: Path | None, use_default: bool = True):
        self.folders = [f for f in (folder, DEFAULT_PACK if use_default else None) if f]
        self._cache: dict[tuple[str, int, int], tuple[np.ndarray, Light, float]] = {}  # small
        self._lock = threading.Lock()

    def photos(self) -> list[ScenePhoto]:
        seen: set[str] = set()
        out = []
        for folder in self.folders:
            for photo in load_pack(folder):
                if photo.name not in seen:  # the operator's photo of a name wins
                    seen.add(photo.name)
                    out.append(photo)
        return out

    def pick(self, scene: Scene, prompt: str, seed: int) -> ScenePhoto | None:
        return pick(scene, prompt, self.photos(), seed)

    def backdrop(self, photo: ScenePhoto, size: tuple[int, int]) -> tuple[np.ndarray, Light, float]:
        """The photo covering ``size`` (float32, as a rendered background is), cropped so its
        horizon sits near the people's eye line (eye-level photos have it there), with a
        little lens blur so the people stand in front of it; its light; where the horizon
        ended up (a fraction of the height)."""
        k = (str(photo.path), size[0], size[1])
        with self._lock:
            if k in self._cache:
                return self._cache[k]
        w, h = size
        resized = scaled_to_cover(photo.open(), size)
        horizon = read_horizon(resized, photo) * resized.shape[0]
        x = (resized.shape[1] - w) // 2
        y = int(np.clip(horizon - 0.4 * h, 0, resized.shape[0] - h))
        rgb = np.ascontiguousarray(resized[y : y + h, x : x + w])
        light = read_light(rgb, photo)
        # a portrait lens focused on the people: the scene behind them a little soft
        soft = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), 0.003 * max(size))
        entry = (soft, light, float(np.clip((horizon - y) / h, 0, 1)))
        with self._lock:
            self._cache[k] = entry
        return entry
