"""The identity evaluator: are the people in a result the people in the photos?

Faces in the output are matched to the reference identities (one for a person, two for a
couple; several photos of one person are averaged) with the Hungarian algorithm on
descriptor distance. The report, stored with the task as ``quality``:

    {"faces": 2, "threshold": 0.6, "flags": [],
     "persons": [{"role": "male", "found": true, "box": [...], "distance": 0.31,
                  "similarity": 0.97}, ...],
     "placement": {"expected": ["male", "female"], "ok": true}}

Flags: ``missing_person`` (an identity has no face within the threshold),
``duplicate_identity`` (both identities best match the same face, or the two matched faces
are as close to each other as a person to themself), ``extra_faces``, ``misplaced`` (the
people are not in the order the pose image says: ``layout`` if given, else who is who as
``vision.who`` reads the pose image).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment

from twoshot.vision.faces import SAME_PERSON, add_descriptors, detect_faces, distance, similarity
from twoshot.vision.models import Models
from twoshot.vision.poses import PoseReader
from twoshot.vision.who import who_is_who


@dataclass(frozen=True)
class Identity:
    role: str  # "male", "female" or "person"
    descriptor: np.ndarray


def reference_descriptor(image: object, models: Models | None = None) -> np.ndarray | None:
    """The descriptor of the photo's main (largest) face."""
    faces = detect_faces(image, models)
    if not faces:
        return None
    add_descriptors(image, faces[:1], models)
    return faces[0].descriptor


def evaluate(
    output: object,
    identities: list[Identity],
    *,
    expected_order: list[str] | None = None,
    models: Models | None = None,
) -> dict[str, Any]:
    faces = detect_faces(output, models)
    faces = faces[: len(identities) + 3]  # the largest few: background faces are not subjects
    add_descriptors(output, faces, models)
    flags: list[str] = []
    persons: list[dict[str, Any]] = [{"role": i.role, "found": False} for i in identities]
    if faces:
        cost = np.array([[distance(i.descriptor, f.descriptor) for f in faces] for i in identities])  # type: ignore[arg-type]
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            d = float(cost[r, c])
            face = faces[c]
            persons[r].update(
                found=d < SAME_PERSON,
                box=list(face.box),
                distance=round(d, 4),
                similarity=round(similarity(d), 4),
            )
        if len(identities) == 2 and len(faces) >= 2:
            best = cost.argmin(axis=1)
            same_face = (
                best[0] == best[1]
                and cost[0, best[0]] < SAME_PERSON
                and cost[1, best[1]] < SAME_PERSON
            )
            assigned = [faces[c] for c in cols]
            # the two people in the picture are one person twice, whoever they resemble
            twins = (
                len(assigned) == 2
                and distance(assigned[0].descriptor, assigned[1].descriptor) < SAME_PERSON
            )
            if same_face or twins:
                flags.append("duplicate_identity")
    if any(not p["found"] for p in persons):
        flags.append("missing_person")
    if len(faces) > len(identities):
        flags.append("extra_faces")
    report: dict[str, Any] = {
        "faces": len(faces),
        "threshold": SAME_PERSON,
        "persons": persons,
        "flags": flags,
    }
    if expected_order and all(p["found"] for p in persons):
        xs = {p["role"]: (p["box"][0] + p["box"][2]) / 2 for p in persons}
        actual = sorted(xs, key=lambda role: xs[role])
        ok = actual == expected_order
        report["placement"] = {"expected": expected_order, "ok": ok}
        if not ok:
            flags.append("misplaced")
    return report


class IdentityEvaluator:
    """Evaluates jobs' results; caches reference descriptors by blob key."""

    def __init__(
        self,
        models: Models | None = None,
        cache_size: int = 256,
    ):
        self._models = models or Models.shared()
        self._cache: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        self._poses = PoseReader.of(self._models)

    def descriptor(self, key: str, image: object) -> np.ndarray | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = reference_descriptor(image, self._models)
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return value

    def identity(self, role: str, keys: list[str], images: Any) -> Identity | None:
        found = [d for k in keys if (d := self.descriptor(k, images[k])) is not None]
        if not found:
            return None
        return Identity(role, np.mean(found, axis=0))

    def __call__(self, job: Any, output: Image.Image) -> dict[str, Any]:
        spec = job.spec
        if spec.kind == "couple":
            wanted = [("male", [spec.male]), ("female", [spec.female])]
        else:
            wanted = [("person", list(spec.references))]
        identities = [i for role, keys in wanted if (i := self.identity(role, keys, job.images))]
        order = None
        pose = job.images[spec.pose] if spec.kind == "couple" and spec.pose else None
        if pose is not None and len(identities) == 2:
            read = self._poses.get(spec.pose, pose, (spec.width, spec.height), 2)
            if len(read.people) == 2:
                # who should stand where, decided as the engine is told to (vision.who)
                refs: list[np.ndarray | None] = [i.descriptor for i in identities]
                order = who_is_who(spec.layout, refs, read.descriptors, read.estimates).order
        return evaluate(output, identities, expected_order=order, models=self._models)
