"""The brushes the procedural scenes are painted with: smooth noise, vertical colour
gradients and blends. float32 RGB, 0–255."""

from __future__ import annotations

import cv2
import numpy as np


def noise(rng: np.random.Generator, h: int, w: int, scales: tuple[int, ...]) -> np.ndarray:
    """Smooth fractal noise, about 0–1: random grids of a few sizes, upsampled and summed."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for i, s in enumerate(scales):
        grid = rng.random((max(2, h // s), max(2, w // s))).astype(np.float32)
        weight = 0.5**i
        out += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += weight
    return np.clip(out / total, 0, 1)


def gradient(h: int, w: int, stops: list[tuple[float, tuple[float, float, float]]]) -> np.ndarray:
    ys = np.linspace(0, 1, h, dtype=np.float32)
    cols = [np.interp(ys, [s for s, _ in stops], [c[i] for _, c in stops]) for i in range(3)]
    return np.repeat(np.stack(cols, axis=1).astype(np.float32)[:, None, :], w, axis=1)


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    t = np.asarray(t, np.float32)
    if t.ndim == 2:
        t = t[..., None]
    return a * (1 - t) + b * t
