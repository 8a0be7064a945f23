"""Apparent age and gender of a face: who is the man and who the woman in a pose photo
([studio]), and whether a face looks like a minor's ([safety]).

The networks are dlib-models' Cydral gender classifier and age predictor (CC0; see
``weights/NOTICE.md``). Each reads a small chip cut by dlib's ``get_face_chip`` from the
face's 5-point landmarks, the same landmarks and predictor file that ``faces.py`` uses for
identity, so a face that was already described costs no second landmark pass. Each chip is
read as is and mirrored, and the two readings are averaged: a face seen from one side moves a
single reading by several years, its mirror image the other way.

These are estimates of how old a face looks, not of how old its owner is: on this project's
adult test photos the age runs a few years under the known age (the numbers are in
tests/test_demographics.py and bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from twoshot.vision.faces import Face, _rgb, add_landmarks
from twoshot.vision.models import Models

Gender = Literal["male", "female"]

# The networks' input: the chip minus the channel means of their training set, over 256
_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
_PADDING = 0.2
_GENDER_CHIP = 32
_AGE_CHIP = 64
# The age network's 81 classes: under a year, then 1 … 80 years
_AGE_CLASSES = np.array([0.25, *range(1, 81)], dtype=np.float32)
# Below this the gender reading is treated as unsure (the test photos read 0.86 – 1.0)
CONFIDENT_GENDER = 0.75


@dataclass(frozen=True)
class Demographics:
    """What one face looks like: ``age``, the apparent age in years (the mean of the
    network's distribution over 0 – 80), and ``p_male``, the probability that it is a man's
    face (``1 - p_male`` a woman's)."""

    age: float
    p_male: float

    @property
    def gender(self) -> Gender:
        return "male" if self.p_male >= 0.5 else "female"

    @property
    def gender_confidence(self) -> float:
        """The probability of the more likely gender, 0.5 – 1."""
        return max(self.p_male, 1.0 - self.p_male)

    def confident_gender(self, at_least: float = CONFIDENT_GENDER) -> Gender | None:
        """The gender when the network is at least this sure, else None."""
        return self.gender if self.gender_confidence >= at_least else None


def _chips(rgb: np.ndarray, face: Face, size: int) -> np.ndarray:
    """The face's chip and its mirror image, as the network's float NCHW input."""
    import dlib

    assert face.landmarks is not None
    parts = dlib.points([dlib.point(round(float(x)), round(float(y))) for x, y in face.landmarks])
    shape = dlib.full_object_detection(dlib.rectangle(*face.box), parts)
    chip = np.asarray(dlib.get_face_chip(rgb, shape, size, _PADDING))
    pair = np.stack([chip, chip[:, ::-1]]).astype(np.float32)
    return np.ascontiguousarray(((pair - _MEANS) / 256.0).transpose(0, 3, 1, 2))


def estimate_faces(
    image: object, faces: list[Face], models: Models | None = None
) -> list[Demographics]:
    """One estimate per face, in order; landmarks are added to faces that lack them."""
    if not faces:
        return []
    models = models or Models.shared()
    rgb = _rgb(image)
    missing = [f for f in faces if f.landmarks is None]
    if missing:
        add_landmarks(rgb, missing, models)
    gender_in = np.concatenate([_chips(rgb, f, _GENDER_CHIP) for f in faces])
    age_in = np.concatenate([_chips(rgb, f, _AGE_CHIP) for f in faces])
    # softmax is inside both graphs: each row is a probability distribution
    p_gender = models.gender(lambda s: s.run(None, {"images": gender_in})[0])
    p_age = models.age(lambda s: s.run(None, {"images": age_in})[0])
    out = []
    for i in range(len(faces)):
        ages = p_age[2 * i : 2 * i + 2].astype(np.float64) @ _AGE_CLASSES
        out.append(
            Demographics(
                age=float(ages.mean()),
                p_male=float(p_gender[2 * i : 2 * i + 2, 1].mean(dtype=np.float64)),
            )
        )
    return out


def estimate(image: object, face: Face, models: Models | None = None) -> Demographics:
    """The apparent age and gender of one face found in ``image`` (``detect_faces``)."""
    return estimate_faces(image, [face], models)[0]
