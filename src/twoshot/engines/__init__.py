"""Engines turn jobs into images. ``Engine`` is the protocol; ``load_engine`` finds one by name.

Built in: ``studio`` (CPU compositing, the embedded default), and with the ``diffusion``
extra, on a GPU, ``flux2-klein`` (FLUX.2 [klein], 24 GB cards) and ``qwen-edit``
(Qwen-Image-Edit, 80 GB cards). Any other name of the form
``package.module:factory`` is imported and called with the ``Settings``; that is how tests
plug in small fixture engines and how operators add their own.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from twoshot.domain import JobSpec
from twoshot.errors import TwoshotError

if TYPE_CHECKING:
    from twoshot.config import Settings

__all__ = [
    "BUILTIN",
    "Engine",
    "Job",
    "Outcome",
    "Progress",
    "Serialized",
    "load_engine",
    "source_type",
]


@dataclass(frozen=True)
class Job:
    """One task for an engine: its spec and its input images, decoded (blob key → RGB image)."""

    task_id: str
    spec: JobSpec
    images: Mapping[str, Image.Image]

    def image(self, key: str | None) -> Image.Image | None:
        return None if key is None else self.images[key]


@dataclass
class Outcome:
    """An image, or the domain error that stopped this one job; ``notes`` go into ``quality``."""

    image: Image.Image | None = None
    error: TwoshotError | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class Progress(Protocol):
    """Report progress (0–1). Raises ``Canceled`` or ``LeaseLost`` when the engine must stop."""

    def __call__(self, fraction: float) -> None: ...


class Engine(Protocol):
    """Makes images. An engine class that sets ``per_thread = True`` is cheap to build and
    keeps no state between calls: each worker thread gets its own. Any other engine (a GPU
    pipeline, whose scheduler keeps per-call state) is loaded once per process and shared
    by the worker threads behind a lock (``Serialized``)."""

    name: str

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]: ...


class Serialized:
    """One engine shared by several worker threads, which take turns: one GPU pipeline in
    memory, never two calls inside it at once."""

    def __init__(self, engine: Engine):
        self.inner = engine
        self.name = engine.name
        self._lock = threading.Lock()

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]:
        with self._lock:
            return self.inner.generate(jobs, progress)

    def source_type(self, notes: Mapping[str, Any]) -> str:
        return source_type(self.inner, notes)


def source_type(engine: Engine, notes: Mapping[str, Any]) -> str:
    """The IPTC digital source type of one outcome, for its Content Credentials: the
    engine's ``source_type(notes)`` if it has one, else generative AI (an engine of unknown
    kind is taken to be generative, the cautious answer)."""
    own = getattr(engine, "source_type", None)
    return str(own(notes)) if callable(own) else "trainedAlgorithmicMedia"


def per_thread(engine: Engine) -> bool:
    return bool(getattr(engine, "per_thread", False))


BUILTIN = {
    "studio": "twoshot.engines.studio:StudioEngine",
    "qwen-edit": "twoshot.engines.qwen_edit:QwenEditEngine",
    "flux2-klein": "twoshot.engines.flux2_klein:Flux2KleinEngine",
}


def load_engine(name: str, settings: Settings) -> Engine:
    target = BUILTIN.get(name, name)
    if ":" not in target:
        raise ValueError(
            f"unknown engine {name!r}: use one of {', '.join(BUILTIN)} or 'package.module:factory'"
        )
    module_name, attr = target.split(":", 1)
    factory = getattr(importlib.import_module(module_name), attr)
    engine: Engine = factory(settings)
    engine.name = name  # tasks name their engine as it was asked for; workers claim by it
    return engine
