"""What every diffusers engine must do, checked the same way for each (``qwen-edit``,
``flux2-klein``): the tests of each engine call these with their tiny engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.errors import Canceled


def check_progress_each_step_and_cancel_at_the_next(
    engine: Any, job: Callable[[JobSpec], Job]
) -> None:
    """Two steps: progress 0.5 then 1.0; a cancel raised at the first step stops the run."""
    images, text = engine.conditions(job(JobSpec(kind="person", references=["m"], prompt="x")))
    seen: list[float] = []
    engine.run(images, text, (256, 256), [1], seen.append)
    assert seen == [0.5, 1.0]

    def cancel_after_first(fraction: float) -> None:
        seen.append(fraction)
        raise Canceled

    seen.clear()
    with pytest.raises(Canceled):
        engine.run(images, text, (256, 256), [1], cancel_after_first)
    assert seen == [0.5]


def check_seeds_reproduce_and_shared_jobs_run_as_one_call(
    engine: Any, job: Callable[[JobSpec], Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs that share their references and prompt run as one pipeline call; a seed gives
    the same picture batched or alone, and another seed another picture."""
    spec = JobSpec(kind="person", references=["m"], prompt="studio", seed=5, width=256, height=256)
    calls: list[int] = []
    run = engine.run

    def counting(images, text, size, seeds, progress):  # type: ignore[no-untyped-def]
        calls.append(len(seeds))
        return run(images, text, size, seeds, progress)

    monkeypatch.setattr(engine, "run", counting)
    monkeypatch.setattr(engine, "_retries", 0)
    other = spec.model_copy(update={"seed": 6})
    together = engine.generate([job(spec), job(other)], lambda _f: None)
    assert calls == [2]
    alone = engine.generate([job(other)], lambda _f: None)
    again = engine.generate([job(other)], lambda _f: None)

    def diff(a: Any, b: Any) -> float:
        return float(
            np.abs(np.asarray(a.image, np.float32) - np.asarray(b.image, np.float32)).mean()
        )

    assert diff(alone[0], again[0]) == 0.0  # the same seed, the same picture
    assert diff(together[1], alone[0]) < 1.0  # batched or not (float noise only)
    assert diff(together[0], together[1]) > 5.0  # another seed, another picture
