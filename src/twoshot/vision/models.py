"""The vision models, loaded once per process on first use, each behind its own lock.

Each ships inside a package, none is downloaded: mediapipe 0.10.21 (face detection, face
mesh, pose, selfie segmentation), dlib with ``face_recognition_models`` (5-point landmarks,
128-D identity descriptor), and twoshot itself (the age and gender networks in ``weights/``,
run on onnxruntime). mediapipe's graph objects and dlib's networks are not documented as
thread-safe, so every call holds the model's lock; the API's submission checks and the
in-process workers share them safely.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def face_recognition_models_dir() -> Path:
    """The package's ``models`` folder, found without importing it (it needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "face-recognition-models is not installed: pip install face-recognition-models"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class Model:
    """A lazily built model and the lock that serialises its use."""

    def __init__(self, build: Callable[[], Any]):
        self._build = build
        self._model: Any = None
        self.lock = threading.Lock()

    def __call__(self, fn: Callable[[Any], T]) -> T:
        with self.lock:
            if self._model is None:
                self._model = self._build()
            return fn(self._model)


def _mp() -> Any:
    import mediapipe as mp

    return mp.solutions


def _face_detection() -> Any:
    return _mp().face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


def _face_mesh() -> Any:
    return _mp().face_mesh.FaceMesh(static_image_mode=True, max_num_faces=2, refine_landmarks=True)


def _pose() -> Any:
    return _mp().pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False)


def _segmentation() -> Any:
    return _mp().selfie_segmentation.SelfieSegmentation(model_selection=0)


def _hog() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


def _landmarks5() -> Any:
    import dlib

    return dlib.shape_predictor(
        str(face_recognition_models_dir() / "shape_predictor_5_face_landmarks.dat")
    )


def _descriptor() -> Any:
    import dlib

    return dlib.face_recognition_model_v1(
        str(face_recognition_models_dir() / "dlib_face_recognition_resnet_model_v1.dat")
    )


def _onnx(name: str) -> Callable[[], Any]:
    def build() -> Any:
        from twoshot.vision.weights import onnx_session

        return onnx_session(name)

    return build


class Models:
    """One set per process: ``Models.shared()``."""

    _shared: Models | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self.face_detection = Model(_face_detection)
        self.face_mesh = Model(_face_mesh)
        self.pose = Model(_pose)
        self.segmentation = Model(_segmentation)
        self.hog = Model(_hog)
        self.landmarks5 = Model(_landmarks5)
        self.descriptor = Model(_descriptor)
        self.gender = Model(_onnx("gender-v1.onnx"))
        self.age = Model(_onnx("age-v1.onnx"))

    @classmethod
    def shared(cls) -> Models:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared
