"""The places, painted back to front: the sky (its colour from the time and weather, the sun
low on the light side at golden hour, stars at night), a far layer at the horizon (sea, tree
line, skyline, ridge, a room's wall and window) and a ground plane, every pixel with a depth;
or the studio's backdrop."""

from __future__ import annotations

import cv2
import numpy as np

from twoshot.engines.studio.paint import gradient, mix, noise
from twoshot.engines.studio.scene import Scene

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


def paint_sky(scene: Scene, h: int, w: int, horizon: int, rng: np.random.Generator, sun_x: float):
    grey = scene.weather != "clear"
    sky = gradient(max(1, horizon), w, SKIES[(scene.time, "grey" if grey else "clear")])
    sh = sky.shape[0]
    clouds = noise(rng, sh, max(2, w // 4), (32, 12, 4))
    clouds = cv2.resize(clouds, (w, sh))  # stretched sideways: flat, far clouds
    if grey:
        sky = mix(sky, sky * 1.08, np.clip((clouds - 0.4) * 2, 0, 1))
    else:
        lit = {"day": (250, 250, 252), "golden": (255, 190, 150), "night": (40, 42, 60)}
        cover = np.clip((clouds - 0.55) * 3, 0, 0.75)
        sky = mix(sky, np.array(lit[scene.time], np.float32), cover)
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


def paint_far_and_ground(
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
    tex = noise(rng, gh, w, (48, 12, 3))
    streaks = cv2.resize(noise(rng, gh, max(2, w // 8), (8, 2)), (w, gh))  # sideways
    xs = np.arange(w, dtype=np.float32)
    ramp = np.linspace(0, 1, gh, dtype=np.float32)[:, None, None]
    if scene.place == "beach":
        shore = int(gh * 0.28)
        sea = gradient(shore, w, [(0, (30, 70, 110)), (1, (60, 120, 150))]) * dim
        sea = mix(sea, horizon_sky, 0.35)
        waves = streaks[:shore, :, None]
        sea = sea * (0.85 + 0.3 * waves)
        if scene.time == "golden":  # the sun's path on the water
            path = np.exp(-(((xs - sun_x * w) / (0.05 * w)) ** 2))[None, :, None]
            sea += path * (waves > 0.5) * np.array([160, 110, 60], np.float32)
        sand = gradient(gh - shore, w, [(0, (170, 150, 118)), (1, (222, 196, 156))]) * dim
        sand *= 0.9 + 0.2 * tex[shore:, :, None]
        foam = np.exp(-(((np.arange(gh - shore) - 3) / 3.0) ** 2))[:, None, None] * 60 * dim
        img[horizon : horizon + shore] = sea
        img[horizon + shore :] = sand + foam
    elif scene.place in ("park", "field"):
        # a tree line on the horizon, grass in front
        height = (0.05 if scene.place == "field" else 0.16) * h
        edge = horizon - height * (0.4 + 0.6 * noise(rng, 1, w, (40, 10))[0])
        yy = rows[:, None]
        trees = (yy > edge[None, :]) & (yy <= horizon)
        leaf = noise(rng, h, w, (20, 6, 2))[..., None]
        tree_colour = np.array([52, 78, 48], np.float32) * (0.6 + 0.8 * leaf) * dim
        img = np.where(trees[..., None], mix(tree_colour, horizon_sky, 0.3), img)
        grass = gradient(gh, w, [(0, (96, 122, 64)), (1, (62, 104, 44))]) * dim
        img[horizon:] = grass * (0.8 + 0.4 * tex[..., None] * (0.5 + 0.5 * ramp))
    elif scene.place == "city":
        # a skyline of blocks, lit windows when dark, a street
        x = 0
        while x < w:
            bw = int(rng.uniform(0.05, 0.14) * w)
            top = int(horizon - rng.uniform(0.12, 0.45) * h)
            shade = rng.uniform(0.35, 0.65) * (90 if not night else 40)
            img[max(0, top) : horizon, x : x + bw] = mix(
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
        street = gradient(gh, w, [(0, (70, 70, 74)), (1, (48, 48, 52))]) * max(dim, 0.45)
        img[horizon:] = street * (0.9 + 0.2 * tex[..., None])
        if night:  # street lights and car lights: bokeh in the dark
            layer = np.zeros((h, w, 3), np.float32)
            for _ in range(60):
                cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0.25, 0.75) * h)
                colour = [(255, 196, 110), (255, 120, 70), (140, 180, 255)][int(rng.integers(3))]
                cv2.circle(layer, (cx, cy), int(rng.uniform(0.008, 0.03) * w), colour, -1)
            img = np.clip(img + cv2.GaussianBlur(layer, (0, 0), 2) * 0.6, 0, 255)
    elif scene.place == "mountains":
        ridge = horizon - h * (0.08 + 0.22 * noise(rng, 1, w, (60, 20, 6))[0])
        yy = rows[:, None]
        mountain = (yy > ridge[None, :]) & (yy <= horizon)
        below = np.clip((yy - ridge[None, :]) / (0.08 * h), 0, 1)
        rock = mix(
            np.array([240, 244, 250], np.float32),
            np.array([96, 104, 124], np.float32),
            below[..., None],
        )
        rock = mix(rock * dim, horizon_sky, 0.25)
        img = np.where(mountain[..., None], rock, img)
        snow = gradient(gh, w, [(0, (214, 222, 236)), (1, (244, 246, 250))]) * max(dim, 0.35)
        img[horizon:] = snow * (0.94 + 0.1 * tex[..., None])
    elif scene.place == "room":
        # a warm wall, a bright window on the light side, a wooden floor
        wall = gradient(horizon, w, [(0, (176, 156, 132)), (1, (196, 176, 150))])
        img[:horizon] = wall * (0.9 + 0.15 * noise(rng, horizon, w, (30, 6))[..., None])
        wx0 = int((0.62 if sun_x > 0.5 else 0.08) * w)
        wy0, wy1 = int(0.12 * h), int(horizon - 0.12 * h)
        window = {"day": (236, 242, 250), "golden": (255, 206, 150), "night": (30, 36, 60)}
        img[wy0:wy1, wx0 : wx0 + int(0.3 * w)] = window[scene.time]
        floor = gradient(gh, w, [(0, (110, 78, 52)), (1, (140, 100, 66))])
        planks = (np.sin(xs / (0.04 * w) * np.pi * 2) > 0.96)[None, :, None] * -18
        img[horizon:] = floor * (0.85 + 0.3 * streaks[..., None]) + planks
        depth[:horizon] = 0.55  # a wall a few metres behind
        if scene.time == "night":
            img *= 0.8
    return np.clip(img, 0, 255), depth


def paint_studio(h: int, w: int, rng: np.random.Generator, side: float) -> np.ndarray:
    base = np.array(rng.choice([(150, 150, 155), (120, 128, 140), (170, 160, 150)]), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w * (0.5 + 0.2 * side)
    r = np.sqrt(((xx - cx) / w) ** 2 + ((yy - h * 0.4) / h) ** 2)
    return base[None, None, :] * (1.25 - 0.9 * r)[..., None]
