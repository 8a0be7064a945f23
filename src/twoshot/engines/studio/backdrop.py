"""A scene rendered as the picture behind the people, through a portrait lens: the place
(:mod:`~twoshot.engines.studio.places`) with its depth, then the lens. The lens blur grows
with depth: the ground at the people's feet is nearly sharp, the horizon is soft, as with a
portrait lens focused on the people. Then the weather in front, and a vignette.
Deterministic for a seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from twoshot.engines.studio.paint import mix
from twoshot.engines.studio.places import paint_far_and_ground, paint_sky, paint_studio
from twoshot.engines.studio.scene import Scene


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
        img = mix(img, fog, (depth**0.7) * 0.75)
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
        img = paint_studio(rh, rw, rng, light.side)
    else:
        horizon = int(rh * {"beach": 0.5, "city": 0.62, "room": 0.74}.get(scene.place, 0.56))
        sky = paint_sky(scene, rh, rw, horizon, rng, sun_x)
        img, depth = paint_far_and_ground(scene, sky, rh, rw, rng, sun_x)
        img = _lens_blur(img, depth, 0.007 * rw)
        img = _weather(scene, img, depth, rng)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
    return _vignette(np.clip(img, 0, 255).astype(np.float32), 0.3)


def _vignette(img: np.ndarray, strength: float = 0.35) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = np.ogrid[-1 : 1 : complex(0, h), -1 : 1 : complex(0, w)]
    falloff = 1 - strength * np.clip((x * x + y * y) / 2, 0, 1)
    return img * falloff[..., None].astype(np.float32)
