"""The content policy in force: built once from the settings, handed to the intake (inputs),
the submissions (prompts) and the workers (results), and described in ``/readyz``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from twoshot.config import DEFAULT_MIN_APPARENT_AGE, DEFAULT_NSFW_THRESHOLD, Settings
from twoshot.safety.inputs import AgeReader, InputScreen, apparent_ages
from twoshot.safety.nsfw import NsfwModel, NsfwScreen
from twoshot.safety.prompts import PromptPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContentPolicy:
    prompts: PromptPolicy | None
    inputs: InputScreen | None
    results: NsfwScreen | None
    prompt_policy_file: Path | None = None

    @classmethod
    def build(
        cls,
        *,
        prompt_policy: Path | None = None,
        nsfw_threshold: float = DEFAULT_NSFW_THRESHOLD,
        min_apparent_age: float = DEFAULT_MIN_APPARENT_AGE,
        score: Any = None,
        ages: AgeReader = apparent_ages,
    ) -> ContentPolicy:
        """``score`` (picture → 0–1) and ``ages`` default to the real models; a threshold of
        1 turns the screen off, a minimum age of 0 the age check."""
        screen = None
        if nsfw_threshold < 1:
            screen = NsfwScreen(score or NsfwModel.shared(), nsfw_threshold)
        inputs = InputScreen(screen, min_apparent_age, ages)
        return cls(PromptPolicy.load(prompt_policy), inputs, screen, prompt_policy)

    @classmethod
    def from_settings(cls, settings: Settings) -> ContentPolicy:
        return cls.build(
            prompt_policy=settings.prompt_policy,
            nsfw_threshold=settings.nsfw_threshold,
            min_apparent_age=settings.min_apparent_age,
        )

    @classmethod
    def off(cls) -> ContentPolicy:
        """No policy at all: for tests of other layers."""
        return cls(None, None, None)

    def warm(self) -> None:
        """Load the models now (a server's start) rather than in its first request."""
        blank = Image.new("RGB", (64, 64), (128, 128, 128))
        try:
            if self.results is not None:
                self.results.score(blank)
            if self.inputs is not None and self.inputs.min_age > 0:
                self.inputs.warm()
        except Exception:  # the first request will load them, and fail loudly if it must
            log.warning("content policy: warming its models failed", exc_info=True)

    def describe(self) -> dict[str, Any]:
        """What ``/readyz`` shows the operator."""
        prompts: dict[str, Any] = {"enabled": self.prompts is not None}
        if self.prompts is not None:
            prompts |= self.prompts.describe()
            prompts["file"] = str(self.prompt_policy_file) if self.prompt_policy_file else None
        return {
            "prompts": prompts,
            "nsfw_threshold": self.results.threshold if self.results else None,
            "screen_results": self.results is not None,
            "screen_inputs": self.inputs is not None and self.inputs.nsfw is not None,
            "min_apparent_age": (self.inputs.min_age or None) if self.inputs else None,
        }
