"""Cut-out compositing: people matted from their photos, framed at one head size as a
two-shot (or where a pose puts them), relit by the scene's light, with the shadow they
cast on what is behind them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from twoshot.engines.studio.light import Light
from twoshot.engines.studio.subjects import Subject

HEAD = 3.5  # a head, crown to chin, is about 3.5 eye distances
ABOVE_EYES = 2.0  # and its crown (with hair) about 2 eye distances above the eyes
SHOULDERS = 4.5  # eye distances below the eyes


@dataclass(frozen=True)
class Slot:
    """Where a subject goes: its eye centre and eye distance on the canvas."""

    eye: tuple[float, float]
    eye_distance: float


def _eye_distance(subjects: list[Subject], h: int, heads: float, eye_y: float) -> float:
    """The largest of: a head ``1/heads`` of the frame, and what makes every body that runs
    off its photo's bottom also run off the frame's."""
    d = h / (heads * HEAD)
    for s in subjects:
        if not s.body_ends:
            d = max(d, (h - eye_y) / s.below_eyes)
    return d


def two_shot(subjects: list[Subject], size: tuple[int, int]) -> list[Slot]:
    """A couple photo: heads about 1/6.5 of the height where the photos show enough body,
    larger where they are cropped higher (a cut-off torso never ends inside the frame);
    eyes on the upper third; shoulders touching, the first person slightly in front."""
    w, h = size
    eye_y = 0.4 * h
    d = _eye_distance(subjects, h, 6.5, eye_y)
    d = min(d, (eye_y - 0.03 * h) / ABOVE_EYES)  # the crowns stay inside the frame
    if d > h / (4.2 * HEAD):  # short crops: lower the eyes rather than grow the heads
        eye_y = 0.47 * h
        d = min(_eye_distance(subjects, h, 4.2, eye_y), (eye_y - 0.03 * h) / ABOVE_EYES)
    # side by side, each person's shoulder reaching into the other's by a tenth
    left = subjects[0].width_at(SHOULDERS)
    right = subjects[1].width_at(SHOULDERS)
    inner = left[1] + right[0]
    gap = max(2.6, 0.8 * inner) * d  # eye to eye: never closer than two faces' width
    x0 = (w - gap) / 2 + (left[0] - right[1]) * d * 0.5  # the pair centred
    x0 = float(np.clip(x0, 1.6 * d, w - gap - 1.6 * d))
    return [Slot((x0, eye_y), d), Slot((x0 + gap, eye_y + 0.12 * d), d)]


def portrait(subject: Subject, size: tuple[int, int]) -> Slot:
    """A single portrait: head about a fifth of the height, eyes on the upper third."""
    w, h = size
    eye_y = 0.38 * h
    d = _eye_distance([subject], h, 5.0, eye_y)
    d = min(d, (eye_y - 0.04 * h) / ABOVE_EYES)
    return Slot((0.5 * w, eye_y), d)


def fit_slots(subjects: list[Subject], slots: list[Slot], size: tuple[int, int]) -> list[Slot]:
    """Pose slots made to work in the frame. Scale from the pose: one head size for everyone
    (the pose's mean), grown up to 1.4× so a torso cut by its photo runs off the bottom
    edge. Then clamp so both fit: no head outside the frame, never one face over the other
    (eye to eye at least what two_shot keeps), the crowns inside; people are moved apart or
    shrunk, never stacked. A body that still ends inside the frame is lowered by up to half an
    eye distance (eyes at most at 55 % of the height) and otherwise ends in a soft crop
    (``_warp``), never in smeared edge rows."""
    w, h = size
    d = float(np.mean([s.eye_distance for s in slots]))
    grow = 1.0
    for subject, slot in zip(subjects, slots, strict=True):
        if not subject.body_ends:
            grow = max(grow, (h - slot.eye[1]) / (subject.below_eyes * d))
    d *= min(grow, 1.4)
    xs = [s.eye[0] for s in slots]
    need = 0.0
    if len(slots) == 2:
        inner = subjects[0].width_at(SHOULDERS)[1] + subjects[1].width_at(SHOULDERS)[0]
        need = max(2.6, 0.8 * inner)
    # how far the outer shoulders reach (most of them stays in the frame), in eye distances
    reach = (
        max(1.8, 0.85 * subjects[0].width_at(SHOULDERS)[0]),
        max(1.8, 0.85 * subjects[-1].width_at(SHOULDERS)[1]),
    )
    span = xs[-1] - xs[0] + sum(reach) * d
    if span > w:  # the pose's people do not fit side by side: the pose scaled until they do
        k = w / span
        mid = (xs[0] + xs[-1]) / 2
        xs, d = [mid + (x - mid) * k for x in xs], d * k
    d = min(d, w / (need + sum(reach)), (0.55 * h - 0.02 * h) / ABOVE_EYES)
    if len(slots) == 2 and xs[1] - xs[0] < need * d:  # apart, around where the pose has them
        mid = (xs[0] + xs[1]) / 2
        xs = [mid - need * d / 2, mid + need * d / 2]
    shift = max(0.0, reach[0] * d - xs[0]) - max(0.0, xs[-1] + reach[1] * d - w)
    xs = [x + shift for x in xs]
    out = []
    for subject, slot, x in zip(subjects, slots, xs, strict=True):
        # the crown inside, and the face well inside (a pose may put a head off the bottom)
        y = max(min(slot.eye[1], 0.6 * h), 0.02 * h + ABOVE_EYES * d)
        if not subject.body_ends:  # lowered (a little) toward the cut torso reaching the bottom
            y = max(y, min(0.55 * h, slot.eye[1] + 0.5 * d, h - subject.below_eyes * d + 2))
        out.append(Slot((float(x), float(y)), d))
    return out


def _soft_end(mask: np.ndarray, end: int, rows: int) -> np.ndarray:
    """The cut-out fading out over ``rows`` rows above row ``end``: a body cut by its photo
    (or by a desk) ends in a soft crop instead of a straight edge or smeared rows."""
    mask = mask.copy()
    start = max(0, end - rows)
    ramp = np.linspace(1, 0, end - start + 1, dtype=np.float32)[:, None]
    mask[start : end + 1] *= ramp**1.5
    mask[end + 1 :] = 0
    return mask


def _warp(
    subject: Subject, slot: Slot, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The subject's cut-out scaled and moved to ``slot``: its colours and alpha over the
    part of the canvas it covers (not the whole canvas: warping and searching 1024² for a
    person a third that size was most of a composite's time), and that part's top left."""
    w, h = size
    s = slot.eye_distance / subject.eye_distance
    ex, ey = subject.eye_center
    rgb, mask = subject.matte.foreground, subject.mask
    end = subject.matte.bottom
    if not subject.body_ends and slot.eye[1] + (end - ey) * s < h - 1:
        # the cut lands inside the frame: never repeat edge rows (they smear into
        # streaks); the body fades out instead
        mask = _soft_end(mask, end, int(1.2 * subject.eye_distance))
    tx, ty = slot.eye[0] - s * ex, slot.eye[1] - s * ey
    sx0, sy0, sx1, sy1 = subject.extent
    x0, y0 = max(0, int(np.floor(sx0 * s + tx)) - 2), max(0, int(np.floor(sy0 * s + ty)) - 2)
    x1, y1 = min(w, int(np.ceil(sx1 * s + tx)) + 3), min(h, int(np.ceil(sy1 * s + ty)) + 3)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32), (0, 0)
    m = np.array([[s, 0, tx - x0], [0, s, ty - y0]], np.float32)
    flags = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    out = (x1 - x0, y1 - y0)
    fg = cv2.warpAffine(rgb, m, out, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(mask, m, out, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    return fg.astype(np.float32), np.clip(alpha, 0, 1), (x0, y0)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur; wide ones run at a quarter resolution (same look, 10× less work)."""
    if sigma < 4:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def relight(
    fg: np.ndarray, alpha: np.ndarray, light: Light, around: np.ndarray, size: float
) -> np.ndarray:
    """The person lit as the scene is: white balance toward the light's colour, brightness
    partway to the scene's, shading across the body from the light's side (normals taken
    from the matte's shape), and a rim of light on the edge that faces it."""
    weight = alpha > 0.5
    if weight.sum() < 100:
        return fg
    lum = fg @ np.array([0.299, 0.587, 0.114], np.float32)
    gain = float(np.clip((light.level / max(1.0, float(lum[weight].mean()))) ** 0.35, 0.7, 1.3))
    colour = 1 + (light.color - 1) * 0.45
    # pull partway toward the colour of what surrounds the person (the scene's bounce light)
    scene = around.reshape(-1, 3).mean(axis=0) + 1
    bounce = 1 + (scene / scene.mean() - 1) * 0.12
    out = fg * (gain * colour * bounce)
    # pseudo-normals: the matte, blurred at the body's scale, bulges toward the camera
    # (a blurred step's steepest slope is 0.4/σ: there the normal is ±1)
    sigma = 0.08 * size
    smooth = blur(alpha, sigma)
    nx = -cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8 * sigma / 0.4
    toward = np.clip(nx * light.side, -1, 1)
    shade = 1 + light.hardness * 0.25 * toward
    out = out * shade[..., None]
    # rim: the matte's inner edge on the light's side, lit in proportion to what is there
    edge = blur(np.clip((alpha - blur(alpha, 0.012 * size)) * 3, 0, 1), 1.5)
    rim = edge * np.clip(toward * 1.5, 0, 1) * light.rim
    out = out * (1 + rim[..., None] * 1.3 * light.color) + rim[..., None] * 25
    return np.clip(out, 0, 255)


def light_wrap(
    fg: np.ndarray, alpha: np.ndarray, background: np.ndarray, amount: float = 0.3
) -> np.ndarray:
    """Let the scene's light spill over the person's edges, as a real lens would."""
    blurred = blur(background, 8)
    inner = blur(alpha, 6)
    edge = np.clip((alpha - inner) * 2.5, 0, 1)[..., None] * amount
    return fg * (1 - edge) + blurred * edge


def cast_shadow(
    canvas: np.ndarray, alpha: np.ndarray, light: Light, reach: float, receiver: np.ndarray
) -> np.ndarray:
    """The person's shadow on what is right behind them (``receiver``: 1 where that is
    near enough to catch it), thrown away from the light, as soft as the light is."""
    h, w = alpha.shape
    shift = np.array([[1, 0, -light.side * reach], [0, 1, 0.5 * reach]], np.float32)
    softness = reach * (2.5 - 1.5 * light.hardness)
    shadow = blur(cv2.warpAffine(alpha, shift, (w, h)), softness)
    strength = 0.18 + 0.25 * light.hardness
    return canvas * (1 - strength * (shadow * receiver)[..., None])


def compose(
    background: np.ndarray,
    subjects: list[Subject],
    slots: list[Slot],
    light: Light,
    backdrop_near: bool,
) -> tuple[np.ndarray, list[list[int]]]:
    """Paint subjects onto the background, the first one last (in front), and say where
    each one is (the box of their matte, in the subjects' order). A person's shadow
    falls on the person behind, and on the backdrop only when it is near (a studio, a
    room's wall), never on a far sky. The work is done in each person's bounding box (plus
    the shadow's reach), not over the whole canvas."""
    h, w = background.shape[:2]
    canvas = background.copy()
    people = np.full((h, w), 1.0 if backdrop_near else 0.0, np.float32)
    boxes: list[list[int]] = []
    for subject, slot in reversed(list(zip(subjects, slots, strict=True))):
        fg_part, alpha_part, (ox, oy) = _warp(subject, slot, (w, h))
        ys, xs = np.nonzero(alpha_part > 0.01)
        if len(xs) == 0:
            boxes.insert(0, [])
            continue
        seen = np.nonzero(alpha_part > 0.5)
        if len(seen[0]) == 0:
            seen = (ys, xs)
        boxes.insert(
            0,
            [
                int(ox + seen[1].min()),
                int(oy + seen[0].min()),
                int(ox + seen[1].max()),
                int(oy + seen[0].max()),
            ],
        )
        size = float(xs.max() - xs.min())
        reach = 0.06 * size
        pad = int(3 * reach) + 8
        ph, pw = alpha_part.shape
        y0, y1 = max(0, oy - pad), min(h, oy + ph + pad)
        x0, x1 = max(0, ox - pad), min(w, ox + pw + pad)
        box = (slice(y0, y1), slice(x0, x1))
        inner = (slice(oy - y0, oy - y0 + ph), slice(ox - x0, ox - x0 + pw))
        alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
        fg = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        alpha[inner], fg[inner] = alpha_part, fg_part
        a, region = alpha, canvas[box]
        person = relight(fg, a, light, region, size)
        person = light_wrap(person, a, region)
        region = cast_shadow(region, a, light, reach, people[box])
        canvas[box] = person * a[..., None] + region * (1 - a[..., None])
        people[box] = np.maximum(people[box], a)
    return canvas, boxes
