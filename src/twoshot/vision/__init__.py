"""The eyes of twoshot: faces, identities, bodies, masks, and the identity evaluator.

Every model ships inside a PyPI wheel (mediapipe 0.10.21, dlib + face-recognition-models);
nothing is downloaded. Models load once per process (``Models.shared()``).
"""

from twoshot.vision.body import Person, find_people, render_skeleton
from twoshot.vision.checks import VisionChecks
from twoshot.vision.evaluate import Identity, IdentityEvaluator, evaluate, reference_descriptor
from twoshot.vision.faces import (
    SAME_PERSON,
    Face,
    add_descriptors,
    add_landmarks,
    align,
    detect_faces,
    distance,
    face_mesh,
    similarity,
)
from twoshot.vision.models import Models
from twoshot.vision.segment import Matte, halo, person_matte, segmentation

__all__ = [
    "SAME_PERSON",
    "Face",
    "Identity",
    "IdentityEvaluator",
    "Matte",
    "Models",
    "Person",
    "VisionChecks",
    "add_descriptors",
    "add_landmarks",
    "align",
    "detect_faces",
    "distance",
    "evaluate",
    "face_mesh",
    "find_people",
    "halo",
    "person_matte",
    "reference_descriptor",
    "render_skeleton",
    "segmentation",
    "similarity",
]
