"""Cut-out compositing: people cut from their photos, scaled to one head size, placed where
a pose (or a natural two-shot) puts them, lit like the scene, with a soft contact shadow."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from twoshot.engines.studio.subjects import Subject


@dataclass(frozen=True)
class Slot:
    """Where a subject goes: its eye centre and eye distance on the canvas."""

    eye: tuple[float, float]
    eye_distance: float


def two_shot(size: tuple[int, int]) -> list[Slot]:
    w, h = size
    d = 0.075 * min(w, h) * (w / max(w, h)) ** 0.2
    return [Slot((0.37 * w, 0.37 * h), d), Slot((0.63 * w, 0.385 * h), d)]


def portrait(size: tuple[int, int]) -> Slot:
    w, h = size
    return Slot((0.5 * w, 0.4 * h), 0.12 * min(w, h))


def fit_slots(subjects: list[Subject], slots: list[Slot], size: tuple[int, int]) -> list[Slot]:
    """One head size for everyone, grown (up to 1.6×) so no cut-out ends above the bottom edge."""
    h = size[1]
    scale = 1.0
    for subject, slot in zip(subjects, slots, strict=True):
        below_eyes = subject.rgb.shape[0] - subject.eye_center[1]
        if subject.mask[-4:].mean() > 0.02:  # the body runs off the bottom of the photo
            needed = (h - slot.eye[1]) / (below_eyes * slot.eye_distance / subject.eye_distance)
            scale = max(scale, needed)
    scale = min(scale, 1.6)
    common = float(np.mean([s.eye_distance for s in slots])) * scale
    return [Slot(s.eye, common) for s in slots]


def _warp(subject: Subject, slot: Slot, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    w, h = size
    s = slot.eye_distance / subject.eye_distance
    ex, ey = subject.eye_center
    # extend the photo's bottom rows so a torso cut by the frame reaches the canvas edge
    extra = max(0, int((h - (slot.eye[1] + (subject.rgb.shape[0] - ey) * s)) / s) + 2)
    rgb = np.pad(subject.rgb, ((0, extra), (0, 0), (0, 0)), mode="edge") if extra else subject.rgb
    mask = np.pad(subject.mask, ((0, extra), (0, 0)), mode="edge") if extra else subject.mask
    m = np.array([[s, 0, slot.eye[0] - s * ex], [0, s, slot.eye[1] - s * ey]], np.float32)
    fg = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(
        mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return fg.astype(np.float32), alpha


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur; wide ones run at a quarter resolution (same look, 10× less work)."""
    if sigma < 4:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def harmonise(
    fg: np.ndarray, alpha: np.ndarray, scene_lab: np.ndarray, strength: float = 0.3
) -> np.ndarray:
    """Shift the person's colour and light partway toward the scene's (LAB means)."""
    weight = alpha > 0.5
    if weight.sum() < 100:
        return fg
    fg_lab = cv2.cvtColor(np.clip(fg, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB)
    shift = (scene_lab - fg_lab[weight].mean(axis=0)) * strength
    shift[0] *= 0.5  # keep faces readable: move lightness less than colour
    out = cv2.cvtColor(np.clip(fg_lab + shift, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return out.astype(np.float32)


def mean_lab(image: np.ndarray) -> np.ndarray:
    small = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(np.clip(small, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB)
    return lab.reshape(-1, 3).mean(axis=0).astype(np.float32)


def light_wrap(
    fg: np.ndarray, alpha: np.ndarray, background: np.ndarray, amount: float = 0.35
) -> np.ndarray:
    """Let the scene's light spill over the person's edges, as a real lens would."""
    blurred = blur(background, 8)
    inner = blur(alpha, 6)
    edge = np.clip((alpha - inner) * 2.5, 0, 1)[..., None] * amount
    return fg * (1 - edge) + blurred * edge


def contact_shadow(
    canvas: np.ndarray, alpha: np.ndarray, reach: float, strength: float = 0.35
) -> np.ndarray:
    h, w = alpha.shape
    shift = np.array([[1, 0, 0.6 * reach], [0, 1, reach]], np.float32)
    shadow = blur(cv2.warpAffine(alpha, shift, (w, h)), reach)
    return canvas * (1 - strength * shadow[..., None])


def compose(background: np.ndarray, subjects: list[Subject], slots: list[Slot]) -> np.ndarray:
    """Paint subjects onto the background, the first one last (in front). The work is done
    in each person's bounding box (plus the shadow's reach), not over the whole canvas."""
    h, w = background.shape[:2]
    canvas = background.copy()
    scene_lab = mean_lab(background)
    reach = 0.02 * min(w, h)
    pad = int(4 * reach)
    for subject, slot in reversed(list(zip(subjects, slots, strict=True))):
        fg, alpha = _warp(subject, slot, (w, h))
        ys, xs = np.nonzero(alpha > 0.01)
        if len(xs) == 0:
            continue
        y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
        box = (slice(y0, y1), slice(x0, x1))
        a, region = alpha[box], canvas[box]
        person = harmonise(fg[box], a, scene_lab)
        person = light_wrap(person, a, region)
        region = contact_shadow(region, a, reach)
        canvas[box] = person * a[..., None] + region * (1 - a[..., None])
    return canvas
