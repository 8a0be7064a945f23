"""Face swap onto a pose photo: the reference face aligned on landmarks and Poisson-blended
inside its outline (jaw to forehead), feathered. So that no seam shows between two skin
tones, the rest of the target's visible skin around the face (forehead, ears, neck) takes
the reference face's tone, and the face keeps its own. Pixels outside the head and neck are
the pose photo's own."""

from __future__ import annotations

import cv2
import numpy as np

from twoshot.engines.studio.subjects import Subject
from twoshot.vision import Face


def _outline(subject: Subject) -> np.ndarray:
    """The face outline in the subject photo: the mesh oval, or an ellipse from the box."""
    if subject.oval is not None:
        return subject.oval.astype(np.float32)
    x0, y0, x1, y1 = subject.face.box
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2 * 1.1
    t = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1).astype(np.float32)


def _match_colour(src: np.ndarray, dst: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Reinhard transfer in LAB, measured on the face region of both."""
    s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    d = cv2.cvtColor(dst, cv2.COLOR_RGB2LAB).astype(np.float32)
    sm, ss = s[region].mean(axis=0), s[region].std(axis=0) + 1e-3
    dm, ds = d[region].mean(axis=0), d[region].std(axis=0) + 1e-3
    ratio = np.clip(ds / ss, 0.6, 1.6)
    out = (s - sm) * ratio + dm
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def head_and_neck(face: Face, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The region a swap may change: the face box widened to the ears, up to the crown and
    down the neck."""
    x0, y0, x1, y1 = face.box
    fw, fh = x1 - x0, y1 - y0
    return (
        slice(max(0, int(y0 - 0.6 * fh)), min(shape[0], int(y1 + 1.6 * fh))),
        slice(max(0, int(x0 - 0.7 * fw)), min(shape[1], int(x1 + 0.7 * fw))),
    )


def _retone_skin(
    target: np.ndarray, face: Face, region: np.ndarray, tone: np.ndarray
) -> np.ndarray:
    """The target's skin around the face, moved to ``tone`` (a LAB mean): pixels near the
    face's own skin colour, weighted by how near, within the head and neck."""
    box = head_and_neck(face, (target.shape[0], target.shape[1]))
    part = cv2.cvtColor(target[box], cv2.COLOR_RGB2LAB).astype(np.float32)
    skin = part[region[box]]  # the face lies inside its head-and-neck box
    mean, std = skin.mean(axis=0), skin.std(axis=0) + 4
    # chroma decides what is skin; lightness varies with shading, so it counts little
    z = (part - mean) / std
    nearness = np.exp(-0.5 * (z[..., 1] ** 2 + z[..., 2] ** 2 + 0.15 * z[..., 0] ** 2) / 2.5)
    nearness = cv2.GaussianBlur(nearness, (0, 0), 2)[..., None]
    shift = (tone - mean) * np.array([0.8, 1, 1], np.float32)
    out = target.copy()
    moved = np.clip(part + shift * nearness, 0, 255).astype(np.uint8)
    out[box] = cv2.cvtColor(moved, cv2.COLOR_LAB2RGB)
    return out


def swap_face(target: np.ndarray, target_face: Face, subject: Subject) -> np.ndarray:
    """The target with the subject's face; only its head and neck change."""
    h, w = target.shape[:2]
    m, _ = cv2.estimateAffinePartial2D(
        subject.face.landmarks,
        target_face.landmarks,
        method=cv2.LMEDS,
    )
    if m is None:
        raise ValueError("could not align the faces")
    warped = cv2.warpAffine(
        subject.rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    outline = cv2.transform(_outline(subject)[None], m)[0]
    center = outline.mean(axis=0)
    outline = center + (outline - center) * np.array(
        [0.92, 0.95], np.float32
    )  # stay inside the jaw and hairline
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(outline.astype(np.int32)), 255)
    # keep a margin from the image border (seamlessClone needs it)
    mask[:2], mask[-2:], mask[:, :2], mask[:, -2:] = 0, 0, 0, 0
    if mask.sum() == 0:
        return target
    region = mask > 0
    tone = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32)[region].mean(axis=0)
    target = _retone_skin(target, target_face, region, tone)
    # the face keeps its tone; only its contrast follows the target's light
    matched = _match_colour(warped, target, region)
    warped = cv2.addWeighted(warped, 0.6, matched, 0.4, 0)
    x, y, bw, bh = cv2.boundingRect(mask)
    # seamlessClone writes into the mask it is given: hand it a copy
    blended = cv2.seamlessClone(
        warped, target, mask.copy(), (x + bw // 2, y + bh // 2), cv2.NORMAL_CLONE
    )
    # feather the clone into the photo so the seam has no line
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), max(1.0, bw / 40))
    soft = np.where(region, soft, 0)[..., None]
    out = blended.astype(np.float32) * soft + target.astype(np.float32) * (1 - soft)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
