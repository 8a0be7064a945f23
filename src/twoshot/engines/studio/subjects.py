"""What the studio engine needs to know about a reference photo, computed once per image."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from PIL import Image

from twoshot.errors import FaceRejected
from twoshot.vision import (
    Face,
    Matte,
    Models,
    add_descriptors,
    detect_faces,
    face_mesh,
    person_matte,
)

# mediapipe face-mesh indices of the face oval, in order around the face
FACE_OVAL = [
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
]


@dataclass
class Subject:
    rgb: np.ndarray  # uint8 H×W×3
    face: Face  # the main face, with 5 landmarks
    matte: Matte  # the person cut out: alpha, edge-cleaned colours, where the body ends
    oval: np.ndarray | None  # face outline (36 × 2) from the mesh, when found

    @cached_property
    def extent(self) -> tuple[int, int, int, int]:
        """The box (x0, y0, x1, y1) of the cut-out in its photo: where alpha is not zero."""
        ys, xs = np.nonzero(self.mask > 0.004)
        if len(xs) == 0:
            return 0, 0, 0, 0
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    @property
    def descriptor(self) -> np.ndarray | None:
        return self.face.descriptor

    @property
    def mask(self) -> np.ndarray:
        return self.matte.alpha

    @property
    def body_ends(self) -> bool:
        """Whether the whole body is in the photo (it ends before the bottom edge). A body
        cut by the edge, or by a desk in front of it, must run off the frame's edge."""
        cut = self.matte.bottom < self.rgb.shape[0] - 1
        return not cut and self.mask[-4:].mean() < 0.02

    @property
    def below_eyes(self) -> float:
        """How far the body reaches below the eyes, in eye distances."""
        return (self.matte.bottom - self.eye_center[1]) / self.eye_distance

    def width_at(self, eye_distances: float) -> tuple[float, float]:
        """The person's extent left and right of the eye centre, in eye distances, on the
        row that many eye distances below the eyes (the shoulders: ~4)."""
        ex, ey = self.eye_center
        row = int(min(self.matte.bottom, ey + eye_distances * self.eye_distance))
        xs = np.nonzero(self.mask[row] > 0.5)[0]
        if len(xs) == 0:
            return 2.0, 2.0
        return (ex - xs.min()) / self.eye_distance, (xs.max() - ex) / self.eye_distance

    @property
    def eye_center(self) -> np.ndarray:
        left, right = self.face.eyes()
        return (left + right) / 2

    @property
    def eye_distance(self) -> float:
        left, right = self.face.eyes()
        return float(np.linalg.norm(right - left))

    def quality(self) -> float:
        """Largest, sharpest, most frontal face scores highest (for picking a reference)."""
        x0, y0, x1, y1 = self.face.box
        gray = cv2.cvtColor(self.rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
        sharp = float(cv2.Laplacian(gray, cv2.CV_64F).var()) if gray.size else 0.0
        left, right = self.face.eyes()
        nose = self.face.landmarks[4]  # type: ignore[index]
        frontal = 1.0 - min(
            1.0, abs(float(nose[0] - (left[0] + right[0]) / 2)) / max(1.0, self.eye_distance)
        )
        return float(np.sqrt(self.face.area)) * np.log1p(sharp) * frontal


def main_face(rgb: np.ndarray, models: Models) -> Face | None:
    faces = detect_faces(rgb, models)
    if not faces:
        return None
    add_descriptors(rgb, faces[:1], models)  # landmarks, and who it is (for who is who)
    return faces[0]


def mesh_oval(rgb: np.ndarray, face: Face, models: Models) -> np.ndarray | None:
    """The mesh face outline of ``face`` (the mesh whose centre is nearest the face box)."""
    meshes = face_mesh(rgb, models)
    if not meshes:
        return None
    cx, cy = face.center
    best = min(meshes, key=lambda m: float(np.hypot(*(m.mean(axis=0) - (cx, cy)))))
    if not (face.box[0] <= best[:, 0].mean() <= face.box[2]):
        return None
    return best[FACE_OVAL]


class Subjects:
    """LRU of analysed references, by blob key."""

    def __init__(self, models: Models, size: int = 64):
        self._models = models
        self._cache: OrderedDict[str, Subject] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def analyse(self, image: Image.Image, role: str) -> Subject:
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        face = main_face(rgb, self._models)
        if face is None:
            raise FaceRejected(f"no face found in the {role} reference", code="no_face_detected")
        return Subject(
            rgb,
            face,
            person_matte(rgb, self._models, face.center),
            mesh_oval(rgb, face, self._models),
        )

    def get(self, key: str, image: Image.Image, role: str) -> Subject:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        subject = self.analyse(image, role)
        with self._lock:
            self._cache[key] = subject
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return subject
