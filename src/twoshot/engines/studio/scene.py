"""Prompt → scene: a documented vocabulary read from free text, rendered as a place seen
through a portrait lens, with the light the people are then lit by. Deterministic for a
seed. Unknown words are ignored; what was used is reported in the task's ``quality.scene``.

A prompt names up to one of each: a place, a time of day, a weather, a grade. "happy couple
at the beach at sunset" is the beach, at golden hour. A time or weather alone puts the
people in an open field.

| place | words |
|---|---|
| beach | beach, sea, ocean, coast, seaside |
| park | park, garden, forest, woods, nature, trees |
| field | field, meadow, countryside, outdoors, outdoor (the default outdoor place) |
| city | city, street, urban, downtown, nightlife |
| mountains | snow, winter, ski, mountains, snowy, alps |
| room | indoor, indoors, home, living room, room, cafe, restaurant, office, bar |
| studio | studio, portrait, soft light, backdrop (the default) |

| time | words |
|---|---|
| day | day, daylight, noon, morning, afternoon, sunny (the default) |
| golden | sunset, golden hour, dusk, sundown, sunrise, dawn, evening |
| night | night, nighttime, midnight, moonlight, starry |

| weather | words |
|---|---|
| clear | (the default) |
| overcast | cloudy, overcast, grey sky, gray sky |
| fog | fog, foggy, mist, misty, haze |
| rain | rain, rainy, raining |
| snowfall | snowing, snowfall, snowstorm, falling snow |

| grade | words |
|---|---|
| mono | black and white, b&w, monochrome, grayscale, greyscale |
| warm | warm, cozy, golden |
| cool | cool, cold, blue, moody |

The picture is built back to front: sky (its colour from the time and weather, the sun
low on the light side at golden hour, stars at night), a far layer at the horizon (sea,
tree line, skyline, ridge, a room's wall and window), and a ground plane. Every pixel has a
depth, and the lens blur grows with it: the ground at the people's feet is nearly sharp,
the horizon is soft, as with a portrait lens focused on the people. The same scene says
where its light comes from, how hard it is and its colour temperature (:class:`Light`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

PLACES: dict[str, tuple[str, ...]] = {
    "beach": ("beach", "sea", "ocean", "coast", "seaside"),
    "park": ("park", "garden", "forest", "woods", "nature", "trees"),
    "field": ("field", "meadow", "countryside", "outdoors", "outdoor"),
    "city": ("city", "street", "urban", "downtown", "nightlife"),
    "mountains": ("snow", "winter", "ski", "mountains", "snowy", "alps"),
    "room": (
        "indoor",
        "indoors",
        "home",
        "living room",
        "room",
        "cafe",
        "café",
        "restaurant",
        "office",
        "bar",
    ),
    "studio": ("studio", "portrait", "soft light", "soft lighting", "backdrop"),
}
TIMES: dict[str, tuple[str, ...]] = {
    "day": ("day", "daylight", "noon", "morning", "afternoon", "sunny"),
    "golden": ("sunset", "golden hour", "dusk", "sundown", "sunrise", "dawn", "evening"),
    "night": ("night", "nighttime", "midnight", "moonlight", "starry"),
}
WEATHERS: dict[str, tuple[str, ...]] = {
    "overcast": ("cloudy", "overcast", "grey sky", "gray sky"),
    "fog": ("fog", "foggy", "mist", "misty", "haze"),
    "rain": ("rain", "rainy", "raining"),
    "snowfall": ("snowing", "snowfall", "snowstorm", "falling snow"),
}
GRADES: dict[str, tuple[str, ...]] = {
    "mono": ("black and white", "b&w", "monochrome", "grayscale", "greyscale"),
    "warm": ("warm", "cozy", "golden"),
    "cool": ("cool", "cold", "blue", "moody"),
}
INDOOR = ("room", "studio")


@dataclass(frozen=True)
class Light:
    """The scene's key light, which the people are relit by."""

    side: float  # -1: from the left … 1: from the right
    kelvin: int
    hardness: float  # 0 soft (overcast, softbox) … 1 hard (low sun)
    rim: float  # strength of the light on the people's edges on its side
    level: float  # the scene's brightness (mean luminance, 0–255) the people are moved toward

    @property
    def color(self) -> np.ndarray:
        """The light's colour as RGB gains, mean 1."""
        rgb = kelvin_rgb(self.kelvin)
        return (rgb / rgb.mean()).astype(np.float32)


@dataclass
class Scene:
    place: str = "studio"
    time: str = "day"
    weather: str = "clear"
    grade: str | None = None
    words: list[str] = field(default_factory=list)

    @property
    def background(self) -> str:  # the older name of ``place``
        return self.place

    def light(self, seed: int) -> Light:
        side = 1.0 if np.random.default_rng(seed).random() < 0.5 else -1.0
        if self.place in INDOOR:
            if self.place == "studio":
                return Light(side, 5200, 0.5, 0.35, 150)
            return Light(side, 3600, 0.4, 0.25, 125)
        if self.weather in ("overcast", "fog", "rain"):
            return Light(side, 6800, 0.15, 0.08, 135 if self.weather != "rain" else 110)
        if self.time == "golden":
            return Light(side, 3000, 0.9, 0.9, 135)
        if self.time == "night":
            return Light(side, 3300, 0.45, 0.55, 80)
        return Light(side, 5600, 0.75, 0.3, 160)

    def report(self, seed: int) -> dict[str, Any]:
        light = self.light(seed)
        return {
            "place": self.place,
            "time": self.time,
            "weather": self.weather,
            "light": {
                "from": "left" if light.side < 0 else "right",
                "kelvin": light.kelvin,
                "hardness": light.hardness,
            },
            "grade": self.grade,
            "words": self.words,
            "background": self.place,
        }


def kelvin_rgb(kelvin: float) -> np.ndarray:
    """RGB of a black body at ``kelvin`` (Tanner Helland's fit to Mitchell Charity's table)."""
    t = kelvin / 100
    r = 255.0 if t <= 66 else 329.7 * (t - 60) ** -0.1332
    g = 99.47 * np.log(t) - 161.12 if t <= 66 else 288.12 * (t - 60) ** -0.0755
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.52 * np.log(t - 10) - 305.04)
    return np.clip(np.array([r, g, b], np.float32), 1, 255)


def _find(text: str, vocabulary: dict[str, tuple[str, ...]]) -> tuple[str, str] | None:
    """The vocabulary's first word in ``text``: (its name, the word)."""
    hits = []
    for name, words in vocabulary.items():
        for w in words:
            m = re.search(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])", text)
            if m:
                hits.append((m.start(), -len(w), name, w))
    if not hits:
        return None
    _, _, name, word = min(hits)
    return name, word


def read_prompt(prompt: str) -> Scene:
    """Place, time, weather and grade, each the first of its words in the prompt. Generic
    words (outdoor, studio, portrait) only count when no place is named; a time or weather
    with no place is outdoors, in a field."""
    text = prompt.lower()
    scene = Scene()
    # a named place wins over the generic ones ("outdoor portrait in a park" is a park)
    places = {k: v for k, v in PLACES.items() if k not in ("studio", "field")}
    place = (
        _find(text, places)
        or _find(text, {"field": PLACES["field"]})
        or _find(text, {"studio": PLACES["studio"]})
    )
    time = _find(text, TIMES)
    weather = _find(text, WEATHERS)
    grade = _find(text, GRADES)
    if place:
        scene.place = place[0]
    if time:
        scene.time = time[0]
    if weather:
        scene.weather = weather[0]
    if grade and not (time and grade[1] in time[1]):  # "golden hour" is a time, not a grade
        scene.grade = grade[0]
    if (time or weather) and (place is None or place[0] == "studio"):
        scene.place = "field"  # a sunset or the rain happen outdoors
    for found in (place, time, weather, grade):
        if found and found[1] not in scene.words:
            scene.words.append(found[1])
    scene.words.sort(key=text.find)
    return scene


# ---- rendering -------------------------------------------------------------------------


def _noise(rng: np.random.Generator, h: int, w: int, scales: tuple[int, ...]) -> np.ndarray:
    """Smooth fractal noise, about 0–1: random grids of a few sizes, upsampled and summed."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for i, s in enumerate(scales):
        grid = rng.random((max(2, h // s), max(2, w // s))).astype(np.float32)
        weight = 0.5**i
        out += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += weight
    return np.clip(out / total, 0, 1)


def _gradient(h: int, w: int, stops: list[tuple[float, tuple[float, float, float]]]) -> np.ndarray:
    ys = np.linspace(0, 1, h, dtype=np.float32)
    cols = [np.interp(ys, [s for s, _ in stops], [c[i] for _, c in stops]) for i in range(3)]
    return np.repeat(np.stack(cols, axis=1).astype(np.float32)[:, None, :], w, axis=1)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    t = np.asarray(t, np.float32)
    if t.ndim == 2:
        t = t[..., None]
    return a * (1 - t) + b * t


SKIES: dict[tuple[str, str], list[tuple[float, tuple[float, float, float]]]] = {
    ("day", "clear"): [(0, (62, 116, 196)), (0.75, (150, 190, 230)), (1, (205, 222, 238))],
    ("golden", "clear"): [
        (0, (58, 62, 118)),
        (0.45, (196, 112, 104)),
        (0.8, (250, 168, 96)),
        (1, (255, 214, 140)),
    ],
    ("night", "clear"): [(0, (6, 8, 22)), (0.7, (18, 24, 52)), (1, (40, 44, 78))],
    ("day", "grey"): [(0, (128, 134, 146)), (1, (196, 199, 205))],
    ("golden", "grey"): [(0, (96, 92, 108)), (1, (206, 168, 140))],
    ("night", "grey"): [(0, (14, 15, 20)), (1, (44, 44, 52))],
}


def _sky(scene: Scene, h: int, w: int, horizon: int, rng: np.random.Generator, sun_x: float):
    grey = scene.weather != "clear"
    sky = _gradient(max(1, horizon), w, SKIES[(scene.time, "grey" if grey else "clear")])
    sh = sky.shape[0]
    clouds = _noise(rng, sh, max(2, w // 4), (32, 12, 4))
    clouds = cv2.resize(clouds, (w, sh))  # stretched sideways: flat, far clouds
    if grey:
        sky = _mix(sky, sky * 1.08, np.clip((clouds - 0.4) * 2, 0, 1))
    else:
        lit = {"day": (250, 250, 252), "golden": (255, 190, 150), "night": (40, 42, 60)}
        cover = np.clip((clouds - 0.55) * 3, 0, 0.75)
        sky = _mix(sky, np.array(lit[scene.time], np.float32), cover)
    yy, xx = np.mgrid[0:sh, 0:w].astype(np.float32)
    if scene.time == "golden" and not grey:
        # the sun low on the light side, and its glow
        r = np.hypot(xx - sun_x * w, (yy - sh * 0.9) * 1.4) / w
        sky += np.exp(-((r / 0.22) ** 2))[..., None] * np.array([90, 60, 20], np.float32)
        sky += (np.exp(-((r / 0.03) ** 2)) * 2)[..., None] * np.array([120, 110, 80], np.float32)
    elif scene.time == "day" and not grey:
        r = np.hypot(xx - sun_x * w, yy + sh * 0.3) / w
        sky += np.exp(-((r / 0.5) ** 2))[..., None] * np.array([30, 28, 20], np.float32)
    elif scene.time == "night" and not grey:
        stars = (rng.random((sh, w)) > 0.9985).astype(np.float32)
        sky += (
            cv2.GaussianBlur(stars, (0, 0), 0.6)[..., None] * 900 * rng.uniform(0.3, 1, (sh, w, 1))
        )
    return np.clip(sky, 0, 255)


def _far_and_ground(
    scene: Scene, sky: np.ndarray, h: int, w: int, rng: np.random.Generator, sun_x: float
) -> tuple[np.ndarray, np.ndarray]:
    """The picture below (and at) the horizon, and each pixel's depth (0 near, 1 far)."""
    horizon = sky.shape[0]
    img = np.zeros((h, w, 3), np.float32)
    img[:horizon] = sky
    depth = np.ones((h, w), np.float32)
    rows = np.arange(h, dtype=np.float32)
    # the ground plane, seen by a lens focused on people standing at the frame's bottom:
    # a row's blur is 1 - (its distance to the people's)⁻¹, linear in the row
    depth[:] = np.clip((h - rows) / max(1, h - horizon), 0, 1)[:, None]
    night = scene.time == "night"
    dim = {"day": 1.0, "golden": 0.78, "night": 0.22}[scene.time]
    horizon_sky = sky[-1].mean(axis=0)
    gh = h - horizon
    tex = _noise(rng, gh, w, (48, 12, 3))
    streaks = cv2.resize(_noise(rng, gh, max(2, w // 8), (8, 2)), (w, gh))  # sideways
    xs = np.arange(w, dtype=np.float32)
    ramp = np.linspace(0, 1, gh, dtype=np.float32)[:, None, None]
    if scene.place == "beach":
        shore = int(gh * 0.28)
        sea = _gradient(shore, w, [(0, (30, 70, 110)), (1, (60, 120, 150))]) * dim
        sea = _mix(sea, horizon_sky, 0.35)
        waves = streaks[:shore, :, None]
        sea = sea * (0.85 + 0.3 * waves)
        if scene.time == "golden":  # the sun's path on the water
            path = np.exp(-(((xs - sun_x * w) / (0.05 * w)) ** 2))[None, :, None]
            sea += path * (waves > 0.5) * np.array([160, 110, 60], np.float32)
        sand = _gradient(gh - shore, w, [(0, (170, 150, 118)), (1, (222, 196, 156))]) * dim
        sand *= 0.9 + 0.2 * tex[shore:, :, None]
        foam = np.exp(-(((np.arange(gh - shore) - 3) / 3.0) ** 2))[:, None, None] * 60 * dim
        img[horizon : horizon + shore] = sea
        img[horizon + shore :] = sand + foam
    elif scene.place in ("park", "field"):
        # a tree line on the horizon, grass in front
        height = (0.05 if scene.place == "field" else 0.16) * h
        edge = horizon - height * (0.4 + 0.6 * _noise(rng, 1, w, (40, 10))[0])
        yy = rows[:, None]
        trees = (yy > edge[None, :]) & (yy <= horizon)
        leaf = _noise(rng, h, w, (20, 6, 2))[..., None]
        tree_colour = np.array([52, 78, 48], np.float32) * (0.6 + 0.8 * leaf) * dim
        img = np.where(trees[..., None], _mix(tree_colour, horizon_sky, 0.3), img)
        grass = _gradient(gh, w, [(0, (96, 122, 64)), (1, (62, 104, 44))]) * dim
        img[horizon:] = grass * (0.8 + 0.4 * tex[..., None] * (0.5 + 0.5 * ramp))
    elif scene.place == "city":
        # a skyline of blocks, lit windows when dark, a street
        x = 0
        while x < w:
            bw = int(rng.uniform(0.05, 0.14) * w)
            top = int(horizon - rng.uniform(0.12, 0.45) * h)
            shade = rng.uniform(0.35, 0.65) * (90 if not night else 40)
            img[max(0, top) : horizon, x : x + bw] = _mix(
                np.array([shade, shade, shade * 1.1], np.float32),
                horizon_sky,
                0.35 if not night else 0.1,
            )
            if night or scene.time == "golden":
                for wy in range(max(0, top) + 4, horizon - 3, 7):
                    for wx in range(x + 3, x + bw - 3, 6):
                        if rng.random() < 0.35:
                            img[wy : wy + 3, wx : wx + 3] = (255, 206, 130)
            x += bw
        street = _gradient(gh, w, [(0, (70, 70, 74)), (1, (48, 48, 52))]) * max(dim, 0.45)
        img[horizon:] = street * (0.9 + 0.2 * tex[..., None])
        if night:  # street lights and car lights: bokeh in the dark
            layer = np.zeros((h, w, 3), np.float32)
            for _ in range(60):
                cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0.25, 0.75) * h)
                colour = [(255, 196, 110), (255, 120, 70), (140, 180, 255)][int(rng.integers(3))]
                cv2.circle(layer, (cx, cy), int(rng.uniform(0.008, 0.03) * w), colour, -1)
            img = np.clip(img + cv2.GaussianBlur(layer, (0, 0), 2) * 0.6, 0, 255)
    elif scene.place == "mountains":
        ridge = horizon - h * (0.08 + 0.22 * _noise(rng, 1, w, (60, 20, 6))[0])
        yy = rows[:, None]
        mountain = (yy > ridge[None, :]) & (yy <= horizon)
        below = np.clip((yy - ridge[None, :]) / (0.08 * h), 0, 1)
        rock = _mix(
            np.array([240, 244, 250], np.float32),
            np.array([96, 104, 124], np.float32),
            below[..., None],
        )
        rock = _mix(rock * dim, horizon_sky, 0.25)
        img = np.where(mountain[..., None], rock, img)
        snow = _gradient(gh, w, [(0, (214, 222, 236)), (1, (244, 246, 250))]) * max(dim, 0.35)
        img[horizon:] = snow * (0.94 + 0.1 * tex[..., None])
    elif scene.place == "room":
        # a warm wall, a bright window on the light side, a wooden floor
        wall = _gradient(horizon, w, [(0, (176, 156, 132)), (1, (196, 176, 150))])
        img[:horizon] = wall * (0.9 + 0.15 * _noise(rng, horizon, w, (30, 6))[..., None])
        wx0 = int((0.62 if sun_x > 0.5 else 0.08) * w)
        wy0, wy1 = int(0.12 * h), int(horizon - 0.12 * h)
        window = {"day": (236, 242, 250), "golden": (255, 206, 150), "night": (30, 36, 60)}
        img[wy0:wy1, wx0 : wx0 + int(0.3 * w)] = window[scene.time]
        floor = _gradient(gh, w, [(0, (110, 78, 52)), (1, (140, 100, 66))])
        planks = (np.sin(xs / (0.04 * w) * np.pi * 2) > 0.96)[None, :, None] * -18
        img[horizon:] = floor * (0.85 + 0.3 * streaks[..., None]) + planks
        depth[:horizon] = 0.55  # a wall a few metres behind
        if scene.time == "night":
            img *= 0.8
    return np.clip(img, 0, 255), depth


def _studio(h: int, w: int, rng: np.random.Generator, side: float) -> np.ndarray:
    base = np.array(rng.choice([(150, 150, 155), (120, 128, 140), (170, 160, 150)]), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w * (0.5 + 0.2 * side)
    r = np.sqrt(((xx - cx) / w) ** 2 + ((yy - h * 0.4) / h) ** 2)
    return base[None, None, :] * (1.25 - 0.9 * r)[..., None]


def _lens_blur(img: np.ndarray, depth: np.ndarray, sigma: float) -> np.ndarray:
    """Defocus growing with depth: the picture blurred at a few strengths, each pixel taking
    the one its depth asks for (linear between them)."""
    levels = [img]
    for k in (1, 2, 3):
        s = sigma * k / 3
        small = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), max(0.5, s / 2))
        levels.append(cv2.resize(small, (img.shape[1], img.shape[0])))
    t = np.clip(depth, 0, 1) * 3
    out = np.zeros_like(img)
    for i in range(3):
        weight = np.clip(1 - np.abs(t - i), 0, 1)
        out += levels[i] * weight[..., None]
    weight = np.clip(t - 2, 0, 1)
    return out * (1 - weight[..., None]) + levels[3] * weight[..., None]


def _weather(scene: Scene, img: np.ndarray, depth: np.ndarray, rng: np.random.Generator):
    h, w = depth.shape
    if scene.weather == "fog":
        fog = (
            img[: max(1, h // 3)].mean(axis=(0, 1)) * 0.3
            + np.array([200, 204, 210], np.float32) * 0.7
        )
        img = _mix(img, fog, (depth**0.7) * 0.75)
    elif scene.weather == "rain":
        drops = (rng.random((h, w)) > 0.996).astype(np.float32)
        kernel = np.zeros((15, 15), np.float32)
        cv2.line(kernel, (5, 0), (9, 14), 1.0, 1)
        streaks = cv2.filter2D(drops, -1, kernel / kernel.sum())
        img = img * 0.92 + streaks[..., None] * 420
    elif scene.weather == "snowfall":
        layer = np.zeros((h, w), np.float32)
        for _ in range(900):
            near = rng.random()
            cv2.circle(
                layer,
                (int(rng.uniform(0, w)), int(rng.uniform(0, h))),
                max(1, int(near * 0.006 * w)),
                float(0.5 + 0.5 * near),
                -1,
                lineType=cv2.LINE_AA,
            )
        img = img + cv2.GaussianBlur(layer, (0, 0), 1.2)[..., None] * 200
    return np.clip(img, 0, 255)


def render_background(scene: Scene, size: tuple[int, int], seed: int) -> np.ndarray:
    """float32 RGB, 0–255. Drawn at half size (the lens blurs it anyway) and enlarged."""
    w, h = size
    rw, rh = max(32, w // 2), max(32, h // 2)
    rng = np.random.default_rng(seed)
    light = scene.light(seed)
    sun_x = 0.5 + 0.32 * light.side
    if scene.place == "studio":
        img = _studio(rh, rw, rng, light.side)
    else:
        horizon = int(rh * {"beach": 0.5, "city": 0.62, "room": 0.74}.get(scene.place, 0.56))
        sky = _sky(scene, rh, rw, horizon, rng, sun_x)
        img, depth = _far_and_ground(scene, sky, rh, rw, rng, sun_x)
        img = _lens_blur(img, depth, 0.007 * rw)
        img = _weather(scene, img, depth, rng)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
    return _vignette(np.clip(img, 0, 255).astype(np.float32), 0.3)


def _vignette(img: np.ndarray, strength: float = 0.35) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = np.ogrid[-1 : 1 : complex(0, h), -1 : 1 : complex(0, w)]
    falloff = 1 - strength * np.clip((x * x + y * y) / 2, 0, 1)
    return img * falloff[..., None].astype(np.float32)


def apply_grade(img: np.ndarray, grade: str | None) -> np.ndarray:
    if grade == "mono":
        gray = img @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.repeat(gray[..., None], 3, axis=2)
    if grade == "warm":
        return np.clip(img * np.array([1.08, 1.0, 0.88], np.float32), 0, 255)
    if grade == "cool":
        return np.clip(img * np.array([0.9, 0.98, 1.1], np.float32), 0, 255)
    return img
