"""Person segmentation with soft, edge-aware mask borders (for the CPU engine's cut-outs)."""

from __future__ import annotations

import cv2
import numpy as np

from twoshot.vision.models import Models


def person_mask(image: object, models: Models | None = None, feather: float = 0.004) -> np.ndarray:
    """A float32 mask in [0, 1], 1 on the person. The model's low-resolution mask is refined
    with a guided filter on the photo itself, so hair and shoulders keep their real outline."""
    models = models or Models.shared()
    rgb = np.ascontiguousarray(np.asarray(image))
    h, w = rgb.shape[:2]
    raw = models.segmentation(lambda m: m.process(rgb)).segmentation_mask
    mask = np.clip(np.asarray(raw, np.float32), 0.0, 1.0)
    if mask.shape != (h, w):
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    radius = max(2, round(max(h, w) * feather * 2))
    guide = rgb.astype(np.float32) / 255.0
    refined = cv2.ximgproc.guidedFilter(guide=guide, src=mask, radius=radius, eps=1e-3)
    # steepen the transition back to a crisp-but-soft edge
    refined = np.clip((refined - 0.5) * 1.6 + 0.5, 0.0, 1.0)
    return refined.astype(np.float32)
