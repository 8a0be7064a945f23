"""What a read pose image lets the studio engine do: swap faces onto its people (and why
not), or the slots where cut-out people stand as it says."""

from __future__ import annotations

import numpy as np

from twoshot.engines.studio.composite import Slot
from twoshot.vision import Face
from twoshot.vision.poses import PoseRead
from twoshot.vision.who import frontal_enough, yaw

MIN_SWAP_FACE = 96  # smaller faces lose identity in a swap: placed as the pose says instead


def swap_targets(read: PoseRead, people: int) -> tuple[list[Face] | None, str]:
    """The faces to swap onto, left to right, or ``None`` and why a swap is not done."""
    if len(read.people) < people:
        return None, f"the pose image shows {len(read.people)} of {people} people"
    faces = [p.face for p in read.people[:people]]
    if any(f is None for f in faces):
        return None, "not every person in the pose image shows a face"
    found: list[Face] = [f for f in faces if f is not None]
    if not read.whole:
        return None, "the pose image's people do not all fit the frame: a swap would cut one"
    small = min(min(f.width, f.height) for f in found)
    if small < MIN_SWAP_FACE:
        return None, f"a face in the pose image is {small} px, under {MIN_SWAP_FACE}: too small"
    if people == 2 and min(f.area for f in found) * 4 < max(f.area for f in found):
        return None, "the second face is much smaller: a bystander, not a partner"
    turned = [f for f in found if not frontal_enough(f)]
    if turned:
        return None, f"a face in the pose image is turned away (yaw {yaw(turned[0]):.2f})"
    return found, "every person in the pose image shows a large, frontal face"


def pose_slots(read: PoseRead, people: int) -> list[Slot] | None:
    """Where each person's eyes are and how far apart, from the best evidence each pose
    person gives: the pose model's eyes, its shoulders, a silhouette's head, or a face."""
    if len(read.people) < people:
        return None
    slots = []
    for person in read.people[:people]:
        k = person.keypoints
        if k is not None and k[2, 2] > 0.5 and k[5, 2] > 0.5:  # both eyes seen
            left, right = k[2, :2], k[5, :2]
            slots.append(
                Slot(tuple((left + right) / 2), float(np.linalg.norm(right - left)) or 1.0)
            )
        elif k is not None and k[11, 2] > 0.5 and k[12, 2] > 0.5:  # shoulders: eyes ~⅓ apart
            sl, sr = k[11, :2], k[12, :2]
            width = float(np.linalg.norm(sl - sr))
            mid = (sl + sr) / 2
            slots.append(Slot((float(mid[0]), float(mid[1] - 0.55 * width)), width * 0.3))
        elif person.head is not None:  # a silhouette's head: eyes ~0.6 widths down
            cx, top, width = person.head
            slots.append(Slot((cx, top + 0.6 * width), 0.42 * width))
        elif person.face is not None:
            cx, cy = person.face.center
            slots.append(Slot((cx, cy - person.face.height * 0.1), person.face.width * 0.42))
        else:
            return None
    return slots
