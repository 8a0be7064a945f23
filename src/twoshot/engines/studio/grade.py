"""The colour grade a prompt can ask for (``Scene.grade``), applied to the finished picture."""

from __future__ import annotations

import numpy as np


def apply_grade(img: np.ndarray, grade: str | None) -> np.ndarray:
    if grade == "mono":
        gray = img @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.repeat(gray[..., None], 3, axis=2)
    if grade == "warm":
        return np.clip(img * np.array([1.08, 1.0, 0.88], np.float32), 0, 255)
    if grade == "cool":
        return np.clip(img * np.array([0.9, 0.98, 1.1], np.float32), 0, 255)
    return img
