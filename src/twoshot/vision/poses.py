"""A pose (or control) image read once: its people, their faces (descriptors, apparent age
and gender), framed for an output size. Cached by blob key (content-addressed) and size,
as references are, so a batch that shares one pose image pays for reading it once: finding
people in a skeleton or a back view costs about a second, a cache hit nothing.

The frame is the pose image scaled to cover the output size and cropped around its people
(not around the image's centre, which cut one of two side-by-side portraits in half). When
the people do not both fit in that crop, ``whole`` is false: a swap would cut someone, so the
engine composites them instead, placed as the pose says.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from PIL import Image

from twoshot.vision.body import Person, find_people
from twoshot.vision.demographics import Demographics, estimate_faces
from twoshot.vision.faces import Face, add_descriptors
from twoshot.vision.models import Models


@dataclass
class PoseRead:
    frame: np.ndarray  # uint8 h×w×3: the pose image as the output's canvas
    people: list[Person]  # left to right, in frame coordinates (they may reach outside it)
    whole: bool  # every person's head lies inside the frame
    estimates: list[Demographics | None]  # per person with a face: apparent age and gender

    @property
    def descriptors(self) -> list[np.ndarray | None]:
        return [p.face.descriptor if p.face is not None else None for p in self.people]


def _shift_face(face: Face, dx: float, dy: float) -> Face:
    x0, y0, x1, y1 = face.box
    box = (round(x0 + dx), round(y0 + dy), round(x1 + dx), round(y1 + dy))
    marks = None if face.landmarks is None else face.landmarks + np.array([dx, dy], np.float32)
    return replace(face, box=box, landmarks=marks)


def _shift(person: Person, dx: float, dy: float) -> Person:
    x0, y0, x1, y1 = person.box
    keypoints = None
    if person.keypoints is not None:
        keypoints = person.keypoints.copy()
        keypoints[:, 0] += dx
        keypoints[:, 1] += dy
    head = None
    if person.head is not None:
        head = (person.head[0] + dx, person.head[1] + dy, person.head[2])
    return Person(
        (round(x0 + dx), round(y0 + dy), round(x1 + dx), round(y1 + dy)),
        keypoints,
        None if person.face is None else _shift_face(person.face, dx, dy),
        head,
    )


def _extent(person: Person) -> tuple[float, float, float, float]:
    """Left, right, top and bottom of the person's head (hair and ears included)."""
    if person.face is not None:
        x0, y0, x1, y1 = person.face.box
        fw = x1 - x0
        return x0 - 0.25 * fw, x1 + 0.25 * fw, y0 - 0.35 * fw, y1 + 0.1 * fw
    if person.head is not None:
        cx, top, width = person.head
        return cx - 0.6 * width, cx + 0.6 * width, top, top + 1.3 * width
    x0, y0, x1, _ = person.box
    return float(x0), float(x1), float(y0), float(y0 + 0.25 * (x1 - x0))


def scaled_to_cover(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """The image scaled (not cropped) so that it covers ``size``: one side fits exactly."""
    w, h = size
    scale = max(w / image.width, h / image.height)
    resized = image.resize(
        (max(w, round(image.width * scale)), max(h, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    return np.ascontiguousarray(np.asarray(resized))


def read_pose(
    image: Image.Image,
    size: tuple[int, int],
    people: int,
    models: Models,
) -> PoseRead:
    w, h = size
    full = scaled_to_cover(image.convert("RGB"), size)
    fh, fw = full.shape[:2]
    found = find_people(full, people, models)
    faces = [p.face for p in found if p.face is not None]
    add_descriptors(full, faces, models)
    # crop around the people: their middle across, their heads in the upper part
    if found:
        extents = [_extent(p) for p in found]
        left, right = min(e[0] for e in extents), max(e[1] for e in extents)
        top, bottom = min(e[2] for e in extents), max(e[3] for e in extents)
        x = int(np.clip((left + right) / 2 - w / 2, 0, fw - w))
        y = int(np.clip(top - 0.08 * h, 0, fh - h))
        whole = left >= x - 1 and right <= x + w + 1 and top >= y - 1 and bottom <= y + h + 1
    else:
        x, y, whole = (fw - w) // 2, int(np.clip(0.4 * fh - 0.4 * h, 0, fh - h)), False
    frame = np.ascontiguousarray(full[y : y + h, x : x + w])
    moved = [_shift(p, -x, -y) for p in found]
    read = iter(estimate_faces(full, faces, models))
    estimates = [next(read) if p.face is not None else None for p in found]
    return PoseRead(frame, moved, whole, estimates)


class PoseReader:
    """LRU of read pose images, by blob key and output size. ``PoseReader.of(models)`` is
    the one shared by everything using those models: the studio engine builds one engine per
    worker thread, and the evaluator reads the same poses, so a batch sharing a pose reads
    it once per process, not once per thread and again for the evaluation."""

    _shared: ClassVar[weakref.WeakKeyDictionary[Models, PoseReader]] = weakref.WeakKeyDictionary()
    _shared_lock = threading.Lock()

    @classmethod
    def of(cls, models: Models) -> PoseReader:
        with cls._shared_lock:
            reader = cls._shared.get(models)
            if reader is None:
                reader = cls._shared[models] = cls(models)
            return reader

    def __init__(self, models: Models, size: int = 32):
        self._models = models
        self._cache: OrderedDict[tuple[str, int, int, int], PoseRead] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str, image: Image.Image, size: tuple[int, int], people: int) -> PoseRead:
        k = (key, size[0], size[1], people)
        with self._lock:
            if k in self._cache:
                self._cache.move_to_end(k)
                return self._cache[k]
        read = read_pose(image, size, people, self._models)
        with self._lock:
            self._cache[k] = read
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return read
