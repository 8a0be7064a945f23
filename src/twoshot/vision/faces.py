"""Faces: detection, 5-point landmarks, alignment, the 478-point mesh, identity descriptors.

Detection is mediapipe's full-range detector; when it finds nothing, dlib's HOG detector
(upsampled once, so faces down to ~40 px) gives a second opinion. Identity is dlib's 128-D
descriptor (euclidean distance; the same person is usually under 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twoshot.vision.models import Models

SAME_PERSON = 0.6


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels
    score: float
    source: str  # "mediapipe" or "hog"
    landmarks: np.ndarray | None = None  # 5 × 2 (dlib order: eye corners ×4, nose)
    descriptor: np.ndarray | None = field(default=None, repr=False)

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """Centres of the (image-)left and right eye, from the 5 landmarks."""
        if self.landmarks is None:
            raise ValueError("landmarks not computed")
        a = self.landmarks[0:2].mean(axis=0)
        b = self.landmarks[2:4].mean(axis=0)
        return (a, b) if a[0] < b[0] else (b, a)


def _rgb(image: object) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError("expected an 8-bit RGB image")
    return np.ascontiguousarray(arr)


def detect_faces(image: object, models: Models | None = None) -> list[Face]:
    """Every face, largest first."""
    models = models or Models.shared()
    rgb = _rgb(image)
    h, w = rgb.shape[:2]
    result = models.face_detection(lambda m: m.process(rgb))
    faces = []
    for det in result.detections or []:
        rel = det.location_data.relative_bounding_box
        x0, y0 = max(0, round(rel.xmin * w)), max(0, round(rel.ymin * h))
        x1, y1 = (
            min(w, round((rel.xmin + rel.width) * w)),
            min(h, round((rel.ymin + rel.height) * h)),
        )
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            faces.append(Face((x0, y0, x1, y1), float(det.score[0]), "mediapipe"))
    if not faces:
        rects, scores, _ = models.hog(lambda m: m.run(rgb, 1, 0.0))
        for r, s in zip(rects, scores, strict=True):
            box = (max(0, r.left()), max(0, r.top()), min(w, r.right()), min(h, r.bottom()))
            faces.append(Face(box, float(s), "hog"))
    faces.sort(key=lambda f: f.area, reverse=True)
    return faces


def _dlib_rect(face: Face) -> object:
    import dlib

    return dlib.rectangle(*face.box)


def _shape(models: Models, rgb: np.ndarray, face: Face) -> Any:
    """dlib's 5-point shape of ``face``; also stored on the face as ``landmarks``."""
    rect = _dlib_rect(face)
    shape = models.landmarks5(lambda predictor: predictor(rgb, rect))
    face.landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return shape


def add_landmarks(image: object, faces: list[Face], models: Models | None = None) -> None:
    models = models or Models.shared()
    rgb = _rgb(image)
    for face in faces:
        _shape(models, rgb, face)


def add_descriptors(image: object, faces: list[Face], models: Models | None = None) -> None:
    """Landmarks (if missing) and the 128-D descriptor of each face, in one batched call."""
    import dlib

    if not faces:
        return
    models = models or Models.shared()
    rgb = _rgb(image)
    shapes = dlib.full_object_detections()
    for face in faces:
        shapes.append(_shape(models, rgb, face))
    vectors = models.descriptor(lambda m: m.compute_face_descriptor(rgb, shapes))
    for face, vec in zip(faces, vectors, strict=True):
        face.descriptor = np.array(vec, dtype=np.float64)


def face_mesh(image: object, models: Models | None = None) -> list[np.ndarray]:
    """478 (x, y) points per face (mediapipe face mesh with refined eyes and lips)."""
    models = models or Models.shared()
    rgb = _rgb(image)
    h, w = rgb.shape[:2]
    result = models.face_mesh(lambda m: m.process(rgb))
    return [
        np.array([(p.x * w, p.y * h) for p in lm.landmark], dtype=np.float32)
        for lm in result.multi_face_landmarks or []
    ]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def similarity(d: float) -> float:
    """A 0–1 reading of a descriptor distance: 0.5 at the same-person threshold (0.6),
    ~0.9 at 0.42 (typical for two photos of one person), ~0.1 at 0.78 (strangers)."""
    return float(1.0 / (1.0 + np.exp((d - SAME_PERSON) / 0.08)))


def align(image: object, face: Face, size: int = 256, padding: float = 0.6) -> np.ndarray:
    """The face rotated upright and scaled so the eyes sit level, as a ``size``² crop."""
    import cv2

    if face.landmarks is None:
        add_landmarks(image, [face])
    left, right = face.eyes()
    angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    eye_dist = float(np.linalg.norm(right - left))
    scale = size / max(1.0, eye_dist * (2 + 2 * padding))
    center = (left + right) / 2
    m = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), angle, scale)
    m[0, 2] += size / 2 - center[0]
    m[1, 2] += size * 0.4 - center[1]
    return cv2.warpAffine(
        _rgb(image), m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
