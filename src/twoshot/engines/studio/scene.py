"""Prompt → scene: a documented vocabulary read from free text, each word a procedural
background and/or a colour grade, deterministic for a seed. Unknown words are ignored; the
words used are reported in the task's ``quality.scene``.

| words | background |
|---|---|
| studio, portrait, soft light, backdrop | seamless paper backdrop with soft falloff (the default) |
| beach, sea, ocean, coast | sky, sea and sand with a horizon |
| park, garden, forest, woods, nature | out-of-focus foliage (green bokeh) |
| city, street, urban, night, downtown | dusk street lights (coloured bokeh) |
| sunset, golden hour, dusk | warm sky with a low sun glow |
| snow, winter, ski, mountains | cold pale sky, snow field, falling snow |

| words | grade |
|---|---|
| black and white, b&w, monochrome, grayscale | monochrome |
| warm, cozy, golden | warmer |
| cool, cold, blue, moody | cooler |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cv2
import numpy as np

BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "beach": ("beach", "sea", "ocean", "coast", "seaside"),
    "park": ("park", "garden", "forest", "woods", "nature", "trees"),
    "city": ("city", "street", "urban", "night", "downtown", "nightlife"),
    "sunset": ("sunset", "golden hour", "dusk", "sundown"),
    "snow": ("snow", "winter", "ski", "mountains", "snowy"),
    "studio": ("studio", "portrait", "soft light", "soft lighting", "backdrop"),
}
GRADES: dict[str, tuple[str, ...]] = {
    "mono": ("black and white", "b&w", "monochrome", "grayscale", "greyscale"),
    "warm": ("warm", "cozy", "golden"),
    "cool": ("cool", "cold", "blue", "moody"),
}


@dataclass
class Scene:
    background: str = "studio"
    grade: str | None = None
    words: list[str] = field(default_factory=list)


def _find(text: str, words: tuple[str, ...]) -> list[tuple[int, str]]:
    found = []
    for w in words:
        m = re.search(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])", text)
        if m:
            found.append((m.start(), w))
    return found


def read_prompt(prompt: str) -> Scene:
    """The first place word wins ("portrait in a park" is a park; studio words only count
    when no place is named); so does the first grade word."""
    text = prompt.lower()
    scene = Scene()
    hits = [(pos, name, w) for name, ws in BACKGROUNDS.items() for pos, w in _find(text, ws)]
    places = [h for h in hits if h[1] != "studio"]
    hits = places or hits
    if hits:
        _, scene.background, word = min(hits)
        scene.words.append(word)
    grades = [(pos, name, w) for name, ws in GRADES.items() for pos, w in _find(text, ws)]
    if grades:
        _pos, scene.grade, word = min(grades)
        scene.words.append(word)
    return scene


def _vertical(h: int, w: int, stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    ys = np.linspace(0, 1, h, dtype=np.float32)
    cols = [np.interp(ys, [s for s, _ in stops], [c[i] for _, c in stops]) for i in range(3)]
    column = np.stack(cols, axis=1).astype(np.float32)
    return np.repeat(column[:, None, :], w, axis=1)


def _bokeh(
    img: np.ndarray,
    rng: np.random.Generator,
    colors: list[tuple[int, int, int]],
    count: int,
    size: tuple[float, float],
    region: tuple[float, float],
    blur: float,
    strength: float,
) -> np.ndarray:
    h, w = img.shape[:2]
    small = 256
    layer = np.zeros((small, small, 3), np.float32)
    for _ in range(count):
        r = int(rng.uniform(*size) * small)
        x = int(rng.uniform(0, 1) * small)
        y = int(rng.uniform(*region) * small)
        color = np.array(colors[int(rng.integers(len(colors)))], np.float32) * rng.uniform(0.5, 1.0)
        cv2.circle(layer, (x, y), max(1, r), color.tolist(), -1, lineType=cv2.LINE_AA)
    layer = cv2.GaussianBlur(layer, (0, 0), blur * small)
    layer = cv2.resize(layer, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(img + layer * strength, 0, 255)


def _vignette(img: np.ndarray, strength: float = 0.35) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = np.ogrid[-1 : 1 : complex(0, h), -1 : 1 : complex(0, w)]
    falloff = 1 - strength * np.clip((x * x + y * y) / 2, 0, 1)
    return img * falloff[..., None].astype(np.float32)


def render_background(scene: Scene, size: tuple[int, int], seed: int) -> np.ndarray:
    """float32 RGB, 0–255."""
    w, h = size
    rng = np.random.default_rng(seed)
    kind = scene.background
    if kind == "beach":
        img = _vertical(
            h,
            w,
            [
                (0, (120, 170, 225)),
                (0.5, (200, 222, 240)),
                (0.52, (60, 120, 170)),
                (0.66, (110, 170, 200)),
                (0.68, (225, 205, 165)),
                (1, (200, 175, 130)),
            ],
        )
        img = _bokeh(img, rng, [(255, 255, 255)], 40, (0.002, 0.01), (0.52, 0.66), 0.004, 0.5)
    elif kind == "park":
        img = _vertical(h, w, [(0, (160, 190, 140)), (0.6, (70, 110, 60)), (1, (50, 80, 40))])
        img = _bokeh(
            img,
            rng,
            [(190, 230, 150), (90, 150, 70), (240, 240, 200), (40, 90, 40)],
            90,
            (0.02, 0.08),
            (0.0, 0.8),
            0.02,
            0.45,
        )
    elif kind == "city":
        img = _vertical(h, w, [(0, (20, 25, 50)), (0.6, (45, 45, 70)), (1, (30, 30, 40))])
        img = _bokeh(
            img,
            rng,
            [(255, 190, 90), (255, 120, 60), (120, 170, 255), (255, 230, 170)],
            70,
            (0.01, 0.05),
            (0.1, 0.7),
            0.012,
            0.9,
        )
    elif kind == "sunset":
        img = _vertical(
            h,
            w,
            [
                (0, (70, 60, 120)),
                (0.35, (230, 120, 90)),
                (0.6, (255, 190, 110)),
                (0.62, (120, 80, 70)),
                (1, (70, 50, 50)),
            ],
        )
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w * rng.uniform(0.3, 0.7), h * 0.58
        glow = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.12 * w) ** 2)))
        img = np.clip(img + glow[..., None] * np.array([255, 200, 120], np.float32) * 0.7, 0, 255)
    elif kind == "snow":
        img = _vertical(
            h,
            w,
            [
                (0, (190, 210, 235)),
                (0.55, (225, 232, 242)),
                (0.58, (240, 244, 250)),
                (1, (215, 225, 238)),
            ],
        )
        img = _bokeh(img, rng, [(255, 255, 255)], 160, (0.002, 0.008), (0, 1), 0.002, 0.7)
    else:  # studio
        base = np.array(rng.choice([(150, 150, 155), (120, 128, 140), (170, 160, 150)]), np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.sqrt(((xx - w / 2) / w) ** 2 + ((yy - h * 0.4) / h) ** 2)
        img = base[None, None, :] * (1.25 - 0.9 * r)[..., None]
    return _vignette(img.astype(np.float32), 0.3)


def apply_grade(img: np.ndarray, grade: str | None) -> np.ndarray:
    if grade == "mono":
        gray = img @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.repeat(gray[..., None], 3, axis=2)
    if grade == "warm":
        return np.clip(img * np.array([1.08, 1.0, 0.88], np.float32), 0, 255)
    if grade == "cool":
        return np.clip(img * np.array([0.9, 0.98, 1.1], np.float32), 0, 255)
    return img
