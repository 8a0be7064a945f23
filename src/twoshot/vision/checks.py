"""Submission-time checks on reference and pose images (the ``InputChecks`` of the service).

The rules, as documented in the README:

- a reference must show exactly one usable face: none → ``no_face_detected``;
- several faces → ``multiple_faces``, unless the largest is at least twice the area of the
  next one, in which case the largest is the subject and the photo is accepted;
- a subject face under 64 px (its box's shorter side) → ``face_too_small``;
- a pose or control image must show at least one person → ``no_person_detected``.
"""

from __future__ import annotations

from PIL import Image

from twoshot.errors import FaceRejected
from twoshot.vision.body import find_people
from twoshot.vision.faces import detect_faces
from twoshot.vision.models import Models

MIN_FACE = 64
DOMINANCE = 2.0


class VisionChecks:
    def __init__(self, models: Models):
        self._models = models

    @classmethod
    def shared(cls) -> VisionChecks:
        return cls(Models.shared())

    def reference(self, image: Image.Image, field: str) -> None:
        faces = detect_faces(image, self._models)
        if not faces:
            raise FaceRejected(
                f"{field}: no face found; send a photo where the person's face is clearly "
                "visible, facing the camera, not covered",
                code="no_face_detected",
                field=field,
            )
        if len(faces) > 1 and faces[0].area < DOMINANCE * faces[1].area:
            raise FaceRejected(
                f"{field}: {len(faces)} faces of similar size; send a photo of this person alone "
                "(or one where they are clearly the main subject)",
                code="multiple_faces",
                field=field,
            )
        face = faces[0]
        if min(face.width, face.height) < MIN_FACE:
            raise FaceRejected(
                f"{field}: the face is {min(face.width, face.height)} px across; send a photo "
                f"where the face is at least {MIN_FACE} px (closer, or a larger image)",
                code="face_too_small",
                field=field,
            )

    def pose(self, image: Image.Image, field: str, people: int) -> None:
        if not find_people(image, max_people=people, models=self._models):
            raise FaceRejected(
                f"{field}: no person found; send a photo showing the "
                f"{'two people' if people == 2 else 'person'} whose pose to use",
                code="no_person_detected",
                field=field,
            )
