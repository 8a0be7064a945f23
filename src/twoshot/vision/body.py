"""People in pose and control images: 33 body keypoints each, left to right, and an
OpenPose-style skeleton rendering that engines can condition on.

A pose image may itself be such a skeleton (coloured limbs and joints on black, as
ControlNet users make them): its joints are read back from their colours.

mediapipe's pose model sees one person per call, so each person is found first (by face,
or by a pose pass over the whole image with the first person masked for a second pass)
and the model runs on that person's crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from twoshot.vision.faces import Face, detect_faces
from twoshot.vision.models import Models

VISIBLE = 0.5

# mediapipe landmark index of each of OpenPose's 18 body points (neck = mid-shoulders)
_OPENPOSE = [0, -1, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7]
_LIMBS = [
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (1, 0),
    (0, 14),
    (14, 16),
    (0, 15),
    (15, 17),
]
_COLORS = [
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (255, 255, 0),
    (170, 255, 0),
    (85, 255, 0),
    (0, 255, 0),
    (0, 255, 85),
    (0, 255, 170),
    (0, 255, 255),
    (0, 170, 255),
    (0, 85, 255),
    (0, 0, 255),
    (85, 0, 255),
    (170, 0, 255),
    (255, 0, 255),
    (255, 0, 170),
    (255, 0, 85),
]


@dataclass
class Person:
    box: tuple[int, int, int, int]
    keypoints: np.ndarray | None  # 33 × 3: x, y (pixels), visibility
    face: Face | None = None
    head: tuple[float, float, float] | None = None  # from a silhouette: centre x, top y, width

    @property
    def center_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    def openpose(self) -> np.ndarray | None:
        """18 × 3 in OpenPose order (x, y, visibility)."""
        if self.keypoints is None:
            return None
        k = self.keypoints
        out = np.zeros((18, 3), np.float32)
        for i, j in enumerate(_OPENPOSE):
            out[i] = (k[11] + k[12]) / 2 if j < 0 else k[j]
        return out


def _pose(rgb: np.ndarray, models: Models) -> np.ndarray | None:
    h, w = rgb.shape[:2]
    result = models.pose(lambda m: m.process(rgb))
    if result.pose_landmarks is None:
        return None
    return np.array(
        [(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark], np.float32
    )


def _box_of(points: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    seen = points[points[:, 2] > VISIBLE]
    if len(seen) == 0:
        seen = points
    x0, y0 = seen[:, 0].min(), seen[:, 1].min()
    x1, y1 = seen[:, 0].max(), seen[:, 1].max()
    pad = 0.08 * max(x1 - x0, y1 - y0)
    return (
        max(0, int(x0 - pad)),
        max(0, int(y0 - pad)),
        min(w, int(x1 + pad)),
        min(h, int(y1 + pad)),
    )


def read_skeletons(rgb: np.ndarray, max_people: int = 2) -> list[Person] | None:
    """The people of an OpenPose-style skeleton image, or ``None`` if it is not one.

    A skeleton image is mostly black, with each joint a dot of its standard colour (the
    limbs are drawn darker). Each joint colour's dots are found, one person per neck dot
    (the largest first), and every other dot goes to the person whose neck is nearest."""
    h, w = rgb.shape[:2]
    dark = float(np.mean(rgb.max(axis=2) < 48))
    if dark < 0.6:
        return None
    pixels = rgb.astype(np.int16)
    dots: list[list[tuple[float, float, int]]] = []  # per joint: (x, y, area)
    for color in _COLORS:
        near = (np.abs(pixels - np.array(color, np.int16)).max(axis=2) <= 40).astype(np.uint8)
        count, _, stats, centroids = cv2.connectedComponentsWithStats(near, connectivity=8)
        found = [
            (float(centroids[i][0]), float(centroids[i][1]), int(stats[i, cv2.CC_STAT_AREA]))
            for i in range(1, count)
            if stats[i, cv2.CC_STAT_AREA] >= 3
        ]
        dots.append(sorted(found, key=lambda d: -d[2]))
    necks = sorted(dots[1][:max_people], key=lambda d: d[0])
    if not necks or sum(1 for joint in dots if joint) < 6:  # a few dots are not a skeleton
        return None
    neck_xy = np.array([(x, y) for x, y, _ in necks], np.float32)
    points = np.zeros((len(necks), 18, 3), np.float32)
    for joint, found in enumerate(dots):
        taken: set[int] = set()
        for x, y, _area in found:
            owner = int(np.argmin(((neck_xy - (x, y)) ** 2).sum(axis=1)))
            if owner in taken:
                continue  # a second dot of this joint near the same neck: keep the larger
            taken.add(owner)
            points[owner, joint] = (x, y, 1.0)
    people = []
    for person in points:
        keypoints = np.zeros((33, 3), np.float32)
        for i, j in enumerate(_OPENPOSE):
            if j >= 0:
                keypoints[j] = person[i]
        if person[1, 2] and not (keypoints[11, 2] and keypoints[12, 2]):
            # a neck without both shoulders: keep it as the shoulders' middle
            keypoints[11] = keypoints[12] = person[1]
        people.append(Person(_box_of(person[person[:, 2] > 0], w, h), keypoints))
    return sorted(people, key=lambda p: p.center_x)


def read_silhouettes(rgb: np.ndarray, max_people: int, models: Models) -> list[Person]:
    """People without faces or a pose the model can read (seen from behind, in profile, in
    shadow): found by person segmentation, one per head. A head is a peak of the
    silhouettes' top outline standing clear of the shoulders on both sides."""
    from twoshot.vision.segment import segmentation

    h, w = rgb.shape[:2]
    mask = segmentation(rgb, models) > 0.5
    if mask.mean() < 0.03:
        return []
    filled = mask.any(axis=0)
    top = np.where(filled, mask.argmax(axis=0), h).astype(np.float32)
    top = cv2.blur(top[None, :], (max(3, w // 100), 1))[0]
    people: list[Person] = []
    taken = np.zeros(w, bool)
    for _ in range(max_people):
        free = np.where(taken | ~filled, np.inf, top)
        x = int(np.argmin(free))
        if not np.isfinite(free[x]):
            break
        y = float(top[x])
        # the head's width: the run of columns whose top is within a head's reach of the peak
        reach = 0.06 * h
        x0 = x
        while x0 > 0 and filled[x0 - 1] and top[x0 - 1] < y + reach:
            x0 -= 1
        x1 = x
        while x1 < w - 1 and filled[x1 + 1] and top[x1 + 1] < y + reach:
            x1 += 1
        width = float(x1 - x0 + 1)
        body = mask[:, max(0, x0 - int(width)) : x1 + int(width) + 1]
        rows = np.nonzero(body.any(axis=1))[0]
        tall = float(rows.max() - y) if len(rows) else 0.0
        taken[max(0, x0 - int(width)) : x1 + int(width) + 1] = True
        # a head is narrower than what is below it, and the body is a few heads tall
        if width < 0.02 * w or tall < 2.0 * width or width > 0.45 * w:
            continue
        box = (
            max(0, int(x0 - width)),
            int(y),
            min(w, int(x1 + width)),
            min(h, int(y + tall)),
        )
        people.append(Person(box, None, None, ((x0 + x1) / 2, y, width)))
    return sorted(people, key=lambda p: p.center_x)


def find_people(image: object, max_people: int = 2, models: Models | None = None) -> list[Person]:
    """Up to ``max_people`` people, left to right: from a skeleton image's joints, else from
    faces and the pose model, else from silhouettes (people seen from behind)."""
    models = models or Models.shared()
    rgb = np.ascontiguousarray(np.asarray(image))
    h, w = rgb.shape[:2]
    skeletons = read_skeletons(rgb, max_people)
    if skeletons:
        return skeletons
    faces = detect_faces(rgb, models)
    if faces:
        # people in the background are not subjects: keep faces near the largest's size
        faces = [f for f in faces if f.area >= faces[0].area / 6][:max_people]
        people = []
        for face in faces:
            fw, fh = face.width, face.height
            cx = face.center[0]
            x0, x1 = max(0, int(cx - 2.6 * fw)), min(w, int(cx + 2.6 * fw))
            y0, y1 = max(0, int(face.box[1] - 0.8 * fh)), min(h, int(face.box[1] + 8 * fh))
            points = _pose(np.ascontiguousarray(rgb[y0:y1, x0:x1]), models)
            if points is not None:
                points[:, 0] += x0
                points[:, 1] += y0
                box = _box_of(points, w, h)
                box = (
                    min(box[0], face.box[0]),
                    min(box[1], face.box[1]),
                    max(box[2], face.box[2]),
                    max(box[3], face.box[3]),
                )
            else:
                box = (x0, face.box[1], x1, y1)
            people.append(Person(box, points, face))
    else:
        people = []
        work = rgb.copy()
        for _ in range(max_people):
            points = _pose(work, models)
            if points is None or float(np.mean(points[:, 2] > VISIBLE)) < 0.3:
                break
            box = _box_of(points, w, h)
            people.append(Person(box, points))
            work[box[1] : box[3], box[0] : box[2]] = 127
        if len(people) < max_people:
            silhouettes = read_silhouettes(rgb, max_people, models)
            if len(silhouettes) > len(people):
                people = silhouettes
    people.sort(key=lambda p: p.center_x)
    return people


def render_skeleton(
    people: list[Person], size: tuple[int, int], source_size: tuple[int, int] | None = None
) -> Image.Image:
    """OpenPose-style skeletons on black, as ControlNet-style pose conditions expect."""
    w, h = size
    sx = w / source_size[0] if source_size else 1.0
    sy = h / source_size[1] if source_size else 1.0
    canvas = np.zeros((h, w, 3), np.uint8)
    stick = max(2, round(min(w, h) / 200))
    for person in people:
        pts = person.openpose()
        if pts is None:
            continue
        pts = pts * np.array([sx, sy, 1], np.float32)
        for (a, b), color in zip(_LIMBS, _COLORS, strict=False):
            if pts[a, 2] < VISIBLE or pts[b, 2] < VISIBLE:
                continue
            layer = canvas.copy()
            (xa, ya), (xb, yb) = pts[a, :2], pts[b, :2]
            length = float(np.hypot(xa - xb, ya - yb))
            angle = float(np.degrees(np.arctan2(ya - yb, xa - xb)))
            poly = cv2.ellipse2Poly(
                (int((xa + xb) / 2), int((ya + yb) / 2)),
                (int(length / 2), stick),
                int(angle),
                0,
                360,
                1,
            )
            cv2.fillConvexPoly(layer, poly, [int(c * 0.6) for c in color])
            canvas = cv2.addWeighted(canvas, 0.4, layer, 0.6, 0)
        for i, color in enumerate(_COLORS):
            if pts[i, 2] >= VISIBLE:
                cv2.circle(canvas, (int(pts[i, 0]), int(pts[i, 1])), stick + 2, color, thickness=-1)
    return Image.fromarray(canvas)
