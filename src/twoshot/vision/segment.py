"""People cut from photos: segmentation, a matte with real edges, and the edge's colours
cleaned of the old background (for the CPU engine's cut-outs).

The segmentation model's mask is low-resolution and a few pixels too fat: used as it is,
the old background shows as a light or dark ring (a halo) around hair and shoulders. So
the mask only seeds a trimap. Inside its unknown band each pixel's alpha is solved from
the colours of the nearest sure foreground and sure background (the colour-line model of
sampling mattes), smoothed by a guided filter on the photo. The edge pixels' foreground
colours are then re-estimated so no old background remains in them.

OpenCV's ``alphamat`` (information-flow matting) is not built into the PyPI OpenCV wheels,
and pymatting needs numba: this takes ~0.1 s per reference and is computed once per
reference photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from twoshot.vision.models import Models


def segmentation(rgb: np.ndarray, models: Models | None = None) -> np.ndarray:
    """The selfie-segmentation model's soft person mask at the photo's size, float32 0–1."""
    models = models or Models.shared()
    h, w = rgb.shape[:2]
    raw = models.segmentation(lambda m: m.process(rgb)).segmentation_mask
    mask = np.clip(np.asarray(raw, np.float32), 0.0, 1.0)
    if mask.shape != (h, w):
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    return mask


@dataclass
class Matte:
    alpha: np.ndarray  # float32 H×W, 0–1
    foreground: np.ndarray  # uint8 H×W×3: the photo with the edge's colours decontaminated
    bottom: int  # the last row the person reaches (a podium or desk below is cut away)


def _one_person(sure: np.ndarray, at: tuple[float, float] | None) -> np.ndarray:
    """The connected region under ``at`` (the face), else the largest one."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        sure.astype(np.uint8), connectivity=8
    )
    if count <= 2:
        return sure
    label = 0
    if at is not None:
        x, y = int(at[0]), int(at[1])
        if 0 <= y < sure.shape[0] and 0 <= x < sure.shape[1]:
            label = int(labels[y, x])
    if label == 0:
        label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == label


def _furniture_row(rgb: np.ndarray, sure: np.ndarray) -> int | None:
    """The top row of a podium, desk or table in front of the person, if there is one: a
    straight horizontal edge across most of the body's width in the photo's bottom third,
    with a different colour below it than above (the selfie model counts such things as
    part of the person)."""
    h = sure.shape[0]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    top, step = int(0.66 * h), max(2, h // 200)
    best_row = None
    for row in range(top, h - 3 * step):
        inside = sure[row]
        if inside.sum() < 0.2 * sure.shape[1]:
            continue
        jump = np.abs(lab[row + step] - lab[row - step]).sum(axis=1)
        if float((jump[inside] > 45).mean()) > 0.85:
            best_row = row  # the topmost such edge
            break
    if best_row is None:
        return None
    band = max(3, h // 60)
    above = lab[best_row - band : best_row - step][sure[best_row - band : best_row - step]]
    below = lab[best_row + step : best_row + band][sure[best_row + step : best_row + band]]
    if len(above) == 0 or len(below) == 0:
        return None
    if float(np.abs(above.mean(axis=0) - below.mean(axis=0)).sum()) < 30:
        return None
    return best_row


def _spread(image: np.ndarray, known: np.ndarray, radius: int) -> np.ndarray:
    """Colours of ``known`` pixels carried into the band next to them (normalised box
    blurs, finest first, so each pixel takes its nearest known colours)."""
    weight = known.astype(np.float32)
    out = np.zeros_like(image)
    done = np.zeros(known.shape, bool)
    for r in (radius, 2 * radius, 4 * radius, 8 * radius):
        total = cv2.blur(weight, (r, r))
        value = cv2.blur(image * weight[..., None], (r, r)) / np.maximum(total, 1e-6)[..., None]
        take = (total > 1e-3) & ~done
        out[take] = value[take]
        done |= take
    return out


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, radius: int) -> np.ndarray:
    """Foreground colours where alpha is partial, with the background's share removed:
    blur-fusion estimation (Forte & Pitié, "Approximate Fast Foreground Colour
    Estimation", ICIP 2021), two passes. float32 0–1 in, float32 0–1 out."""
    a = alpha[..., None]

    def fuse(fg: np.ndarray, bg: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
        blurred_alpha = cv2.blur(alpha, (r, r))[..., None]
        blurred_fg = cv2.blur(fg * a, (r, r)) / (blurred_alpha + 1e-5)
        blurred_bg = cv2.blur(bg * (1 - a), (r, r)) / ((1 - blurred_alpha) + 1e-5)
        fg = blurred_fg + a * (image - a * blurred_fg - (1 - a) * blurred_bg)
        return np.clip(fg, 0, 1), blurred_bg

    fg, bg = fuse(image, image, radius)
    return fuse(fg, bg, max(3, radius // 15))[0]


def person_matte(
    image: object, models: Models | None = None, face_center: tuple[float, float] | None = None
) -> Matte:
    """The person at ``face_center`` (else the largest), matted from the photo."""
    rgb = np.ascontiguousarray(np.asarray(image))
    h, w = rgb.shape[:2]
    sure = _one_person(segmentation(rgb, models) > 0.5, face_center)
    bottom = h - 1
    cut = _furniture_row(rgb, sure)
    if cut is not None:
        sure[cut:] = False
        bottom = cut - 1
    # the unknown band: wider inward, where the model's mask runs over the background
    size = max(h, w)
    outer, inner = max(3, round(size * 0.01)), max(3, round(size * 0.02))
    disc = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))  # noqa: E731
    sure_u8 = sure.astype(np.uint8)
    fg = cv2.erode(sure_u8, disc(inner)) > 0
    bg = cv2.dilate(sure_u8, disc(outer)) == 0
    if cut is not None:
        bg[cut:] = True
    img = rgb.astype(np.float32) / 255
    f, b = _spread(img, fg, outer), _spread(img, bg, outer)
    d = f - b
    contrast = (d * d).sum(axis=2)
    alpha = ((img - b) * d).sum(axis=2) / (contrast + 1e-4)
    # where the two sides look alike, colour says nothing: keep the model's smooth edge
    confidence = np.clip(contrast / 0.02, 0, 1)
    prior = cv2.GaussianBlur(sure.astype(np.float32), (0, 0), outer / 2)
    alpha = confidence * np.clip(alpha, 0, 1) + (1 - confidence) * prior
    alpha = cv2.ximgproc.guidedFilter(guide=img, src=alpha.astype(np.float32), radius=2, eps=1e-4)
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    alpha[fg], alpha[bg] = 1.0, 0.0
    foreground = estimate_foreground(img, alpha, max(15, round(size * 0.1)))
    return Matte(alpha, np.clip(foreground * 255 + 0.5, 0, 255).astype(np.uint8), bottom)


def halo(foreground: np.ndarray, alpha: np.ndarray, background: float = 20.0) -> float:
    """How much a cut-out's edge glows: pasted onto a near-black plain background, the mean
    luminance by which the 3-px band just inside the matte's edge is brighter than the
    person a few pixels further in (0 for a clean edge; the old background left in the
    edge makes it positive). Scaled to a 512-px photo."""
    a = alpha[..., None]
    comp = foreground.astype(np.float32) * a + background * (1 - a)
    lum = comp @ np.array([0.299, 0.587, 0.114], np.float32)
    inside = (alpha > 0.5).astype(np.uint8)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    s = max(alpha.shape) / 512
    edge = (depth > 0) & (depth <= 3 * s)
    inner = ((depth > 5 * s) & (depth <= 10 * s)).astype(np.float32)
    k = (int(25 * s) | 1,) * 2
    near = cv2.blur(inner, k)
    local = cv2.blur(lum * inner, k) / np.maximum(near, 1e-6)
    band = edge & (near > 0.05)
    return float(np.clip(lum - local, 0, None)[band].mean()) if band.any() else 0.0
