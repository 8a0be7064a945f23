"""Small fixture engines for tests. They isolate the queue, worker and API from real imaging;
the studio engine's own tests exercise real imaging.

Loaded by name like any engine: ``TWOSHOT_ENGINE=tests.engines:sidebyside``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PIL import Image

from twoshot.engines import Job, Outcome, Progress
from twoshot.errors import JobFailed


def _side_by_side(job: Job) -> Image.Image:
    spec = job.spec
    keys = [spec.male, spec.female] if spec.kind == "couple" else spec.references
    canvas = Image.new("RGB", (spec.width, spec.height), (40, 40, 40))
    w = spec.width // max(1, len(keys))
    for i, key in enumerate(keys):
        im = job.images[key].copy()  # type: ignore[index]
        im.thumbnail((w, spec.height))
        canvas.paste(im, (i * w, (spec.height - im.height) // 2))
    return canvas


class SideBySide:
    """Pastes the references next to each other: a real image, instantly."""

    name = "tests.engines:sidebyside"

    def __init__(self, settings: object = None):
        pass

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]:
        progress(0.5)
        return [
            Outcome(image=_side_by_side(j), notes={"engine_note": "side by side"}) for j in jobs
        ]


class Slow(SideBySide):
    """Takes ``TWOSHOT_TEST_STEPS`` × ``TWOSHOT_TEST_STEP_SECONDS``, reporting progress each
    step, and appends ``start ID PID`` and ``end ID PID`` lines to ``TWOSHOT_TEST_LOG``."""

    name = "tests.engines:slow"

    def __init__(self, settings: object = None):
        self.steps = int(os.environ.get("TWOSHOT_TEST_STEPS", "10"))
        self.step_seconds = float(os.environ.get("TWOSHOT_TEST_STEP_SECONDS", "0.05"))
        log = os.environ.get("TWOSHOT_TEST_LOG")
        self.log = Path(log) if log else None

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]:
        self._note("start", jobs)
        for step in range(self.steps):
            time.sleep(self.step_seconds)
            progress((step + 1) / self.steps)
        self._note("end", jobs)
        return [Outcome(image=_side_by_side(j)) for j in jobs]

    def _note(self, what: str, jobs: list[Job]) -> None:
        if self.log is not None:
            with self.log.open("a") as f:  # short appends: whole lines, even from many processes
                f.writelines(f"{what} {j.task_id} {os.getpid()}\n" for j in jobs)


class Failing(SideBySide):
    name = "tests.engines:failing"

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]:
        return [
            Outcome(error=JobFailed("the fixture engine refuses", code="fixture_refused"))
            for _ in jobs
        ]


class Crashing(SideBySide):
    name = "tests.engines:crashing"

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]:
        raise RuntimeError("boom")


def sidebyside(settings: object = None) -> SideBySide:
    return SideBySide(settings)


def slow(settings: object = None) -> Slow:
    return Slow(settings)


def failing(settings: object = None) -> Failing:
    return Failing(settings)


def crashing(settings: object = None) -> Crashing:
    return Crashing(settings)
