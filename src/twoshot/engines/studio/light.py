"""The key light the people are relit by, whether a procedural scene's (``Scene.light``) or
read off a scene photo (``photos.read_light``), and colour temperature as RGB."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def kelvin_rgb(kelvin: float) -> np.ndarray:
    """RGB of a black body at ``kelvin`` (Tanner Helland's fit to Mitchell Charity's table)."""
    t = kelvin / 100
    r = 255.0 if t <= 66 else 329.7 * (t - 60) ** -0.1332
    g = 99.47 * np.log(t) - 161.12 if t <= 66 else 288.12 * (t - 60) ** -0.0755
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.52 * np.log(t - 10) - 305.04)
    return np.clip(np.array([r, g, b], np.float32), 1, 255)
