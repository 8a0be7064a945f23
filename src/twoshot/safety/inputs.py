"""The content policy on submitted pictures: every reference, pose and control image is
screened for nudity (``unsafe_input``), and each face that will be used (a reference's
subject; in a pose or control image, the faces that receive the references' faces) must
look at least the minimum age (``apparent_minor``). Runs in the intake, before anything is
stored: a refused picture is never written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from PIL import Image

from twoshot.errors import InvalidInput
from twoshot.safety.nsfw import NsfwScreen

log = logging.getLogger(__name__)

# image (RGB array), how many faces are used → apparent ages of those faces, largest first
AgeReader = Callable[[np.ndarray, int], list[float]]


def apparent_ages(rgb: np.ndarray, faces_used: int) -> list[float]:
    """The estimator of ``twoshot.vision`` on the largest ``faces_used`` faces."""
    from twoshot.vision import detect_faces, estimate_faces

    faces = detect_faces(rgb)[:faces_used]  # largest first
    return [d.age for d in estimate_faces(rgb, faces)]


def warm_ages() -> None:
    """Load what ``apparent_ages`` uses: the face detector, landmarks and the age network."""
    from twoshot.vision import Models, detect_faces

    models = Models.shared()
    detect_faces(np.zeros((64, 64, 3), np.uint8), models)
    models.landmarks5(lambda _m: None)
    models.age(lambda _m: None)


class InputScreen:
    def __init__(
        self,
        nsfw: NsfwScreen | None,
        min_apparent_age: float,
        ages: AgeReader = apparent_ages,
    ):
        self.nsfw = nsfw
        self.min_age = min_apparent_age
        self.ages = ages
        self.warm = warm_ages if ages is apparent_ages else (lambda: None)

    def check(self, image: Image.Image, field: str, faces_used: int) -> None:
        """Raise 400 ``unsafe_input`` or ``apparent_minor`` naming ``field``."""
        if self.nsfw is not None:
            self.nsfw.input(image, field)
        if self.min_age <= 0:
            return
        ages = self.ages(np.asarray(image.convert("RGB")), faces_used)
        young = [a for a in ages if a < self.min_age]
        if young:
            log.info("%s refused: apparent_minor", field)
            raise InvalidInput(
                f"{field}: a face in this picture looks younger than {self.min_age:g} (an "
                "estimate from the face alone); this server does not make pictures of minors. "
                "If everyone in it is an adult, send another photo of them",
                code="apparent_minor",
                field=field,
            )
