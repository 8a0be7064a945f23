"""The eyes of twoshot: faces, identities, bodies, masks, and the identity evaluator.

Every model ships inside a PyPI wheel (mediapipe 0.10.21, dlib + face-recognition-models)
or inside twoshot itself (the CC0 age and gender networks, run by onnxruntime); nothing is
downloaded. Models load once per process (``Models.shared()``).
"""

from twoshot.vision.body import Person, find_people, render_skeleton
from twoshot.vision.checks import VisionChecks
from twoshot.vision.demographics import (
    CONFIDENT_GENDER,
    Demographics,
    Gender,
    estimate,
    estimate_faces,
)
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
    "CONFIDENT_GENDER",
    "SAME_PERSON",
    "Demographics",
    "Face",
    "Gender",
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
    "estimate",
    "estimate_faces",
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
