"""Who is who in a pose photo: which of its people each reference becomes.

The README's old "photo pose (swap)" put the man's face on the woman whenever the pose
photo had her on the left, because references were assigned left to right by ``layout``
whatever the photo showed. The order of evidence, strongest first:

1. ``layout`` given explicitly: the caller knows (and it is the only way for a couple of
   the same gender);
2. the gender estimate of both pose faces (``vision.demographics``), weighed together as a
   man-and-woman pair (``p_man_first``) and taken when that is sure either way;
3. the assignment that minimises the face-descriptor distance between the references and
   the pose's people (Hungarian algorithm), when it beats the other assignment by a margin
   (dlib's descriptors carry gender and likeness, so the man's reference lies nearer the man
   in the photo);
4. otherwise the default: the man on the left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from twoshot.vision.demographics import Demographics, p_man_first
from twoshot.vision.faces import Face, distance

ROLES = ("male", "female")
SURE = 0.9  # P(the man is on the left), or its complement, above which the estimate decides
MARGIN = 0.03  # descriptor distance by which the best assignment must beat the other
FRONTAL = 0.35  # nose offset from the eyes' middle, in eye distances, a swap still takes


@dataclass(frozen=True)
class Assignment:
    """``slots[i]``: the index (left to right) of the pose person role ``ROLES[i]`` takes."""

    slots: tuple[int, int]
    method: str  # "layout", "gender", "descriptor" or "default"

    @property
    def order(self) -> list[str]:
        """The roles from left to right."""
        return [ROLES[self.slots.index(i)] for i in range(2)]

    def report(self) -> dict[str, object]:
        return {
            "order": self.order,
            "by": self.method,
            "slots": dict(zip(ROLES, self.slots, strict=True)),
        }


def by_layout(layout: str | None) -> Assignment:
    if layout == "female_left":
        return Assignment((1, 0), "layout")
    return Assignment((0, 1), "layout" if layout == "male_left" else "default")


def who_is_who(
    layout: str | None,
    references: list[np.ndarray | None],
    people: list[np.ndarray | None],
    estimates: list[Demographics | None] | None = None,
) -> Assignment:
    """Which of two pose people (left to right) the male and the female reference take.

    ``references``: the man's and the woman's descriptors; ``people``: each pose person's
    face descriptor (``None`` where no face was seen); ``estimates``: each pose person's
    apparent age and gender, ``None`` where there is no face."""
    if layout is not None:
        return by_layout(layout)
    if estimates is not None and len(estimates) >= 2:
        first, second = estimates[0], estimates[1]
        if first is not None and second is not None:
            p = p_man_first(first, second)
            if max(p, 1 - p) >= SURE:
                return Assignment((0, 1) if p > 0.5 else (1, 0), "gender")
    if len(people) >= 2 and all(d is not None for d in [*references, *people[:2]]):
        cost = np.array([[distance(r, q) for q in people[:2]] for r in references])  # type: ignore[arg-type]
        rows, cols = linear_sum_assignment(cost)
        best = float(cost[rows, cols].sum())
        other = float(cost[0, 1 - cols[0]] + cost[1, 1 - cols[1]])
        if other - best > MARGIN:
            return Assignment((int(cols[0]), int(cols[1])), "descriptor")
    return by_layout(None)


def yaw(face: Face) -> float:
    """How far the face is turned: the nose's offset from the eyes' middle, in eye
    distances (0 frontal, ~0.5 and more for a three-quarter view or a profile)."""
    if face.landmarks is None:
        raise ValueError("landmarks not computed")
    left, right = face.eyes()
    eye_distance = max(1.0, float(np.linalg.norm(right - left)))
    nose = face.landmarks[4]
    return abs(float(nose[0] - (left[0] + right[0]) / 2)) / eye_distance


def frontal_enough(face: Face) -> bool:
    return yaw(face) <= FRONTAL
