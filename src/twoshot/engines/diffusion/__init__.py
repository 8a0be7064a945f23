"""What the diffusers engines (``qwen-edit``, ``flux2-klein``) share.

- What the model is shown (``prompting``): head-and-shoulders crops of the references, the
  pose as a skeleton picture, and a prompt that says which picture is whom.
- Progress each denoising step; a cancel or a lost lease stops the run at the next step.
- Seeds on CPU generators: the same seed gives the same picture on any device.
- Jobs with the same references, prompt and size run as one pipeline call
  (``num_images_per_prompt``, a generator per seed): prompt and references encoded once.
- The identity gate: each result goes through the identity evaluator; on ``missing_person``
  or ``duplicate_identity`` the next seeds are tried, the best result is kept, and the
  attempts are reported in ``quality.identity_gate``.
- Local checkpoints only (``checkpoint``).

A subclass says how to call its pipeline (``call_options``) and what to note.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from twoshot.engines import Job, Outcome, Progress
from twoshot.engines.diffusion.prompting import (
    couple_prompt,
    person_prompt,
    reference_crop,
    skeleton,
)
from twoshot.vision import IdentityEvaluator

__all__ = ["GATED", "DiffusionEngine", "default_device"]

GATED = ("missing_person", "duplicate_identity")


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _badness(report: dict[str, Any]) -> tuple[int, float]:
    bad = sum(flag in GATED for flag in report.get("flags", []))
    distances = [p.get("distance", 1.0) for p in report.get("persons", [])]
    return bad, sum(distances) / max(1, len(distances))


class DiffusionEngine:
    name: str
    # loaded once per process and shared by the worker threads behind a lock: a pipeline
    # keeps per-call state (see twoshot.engines.Engine)
    per_thread = False
    min_side = 0  # the smallest picture side the pipeline accepts

    def __init__(
        self,
        pipe: Any,
        *,
        steps: int,
        identity_retries: int,
        reference_size: int = 768,
        evaluator: Callable[..., dict] | None = None,
    ):
        self._pipe = pipe
        self.steps = steps
        self._retries = identity_retries
        self._reference_size = reference_size
        self._evaluate = evaluator or IdentityEvaluator()

    # -- what a subclass says ---------------------------------------------------------------------

    def call_options(self) -> dict[str, Any]:
        """Keyword arguments of the pipeline call beyond the shared ones (guidance, …)."""
        return {}

    def notes(self) -> dict[str, Any]:
        """What goes into ``quality`` beside the identity gate."""
        return {"steps": self.steps}

    @staticmethod
    def source_type(_notes: dict[str, Any]) -> str:
        return "trainedAlgorithmicMedia"  # IPTC: made by a generative model

    # -- what the model sees ----------------------------------------------------------------

    def conditions(self, job: Job) -> tuple[list[Image.Image], str]:
        spec, size = job.spec, self._reference_size
        if spec.kind == "couple":
            male, female = job.image(spec.male), job.image(spec.female)
            if male is None or female is None:
                raise ValueError("a couple job needs both references")
            images = [reference_crop(male, size), reference_crop(female, size)]
            pose_image = job.image(spec.pose)
            pose = skeleton(pose_image, 2) if pose_image is not None else None
            if pose is not None:
                images.append(pose)
            text = couple_prompt(
                spec.prompt, with_pose=pose is not None, male_left=spec.layout != "female_left"
            )
        else:
            refs = [job.images[k] for k in spec.references]
            refs.sort(key=lambda im: im.width * im.height, reverse=True)
            images = [reference_crop(im, size) for im in refs[:2]]
            control_image = job.image(spec.control)
            control = skeleton(control_image, 1) if control_image is not None else None
            if control is not None:
                images.append(control)
            text = person_prompt(
                spec.prompt,
                references=len(images) - (control is not None),
                with_control=control is not None,
            )
        return [self._at_least(im) for im in images], text

    def _at_least(self, image: Image.Image) -> Image.Image:
        short = min(image.size)
        if short >= self.min_side:
            return image
        scale = self.min_side / short
        size = (
            max(self.min_side, round(image.width * scale)),
            max(self.min_side, round(image.height * scale)),
        )
        return image.resize(size, Image.Resampling.LANCZOS)

    # -- generation ------------------------------------------------------------------------------

    def run(
        self,
        images: list[Image.Image],
        prompt: str,
        size: tuple[int, int],
        seeds: list[int],
        progress: Progress,
    ) -> list[Image.Image]:
        """One pipeline call: ``len(seeds)`` images for one prompt and one set of pictures."""
        import torch

        steps = self.steps

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict) -> dict:
            progress((step + 1) / steps)  # raises Canceled / LeaseLost: the run stops here
            return tensors

        kwargs: dict[str, Any] = {
            "image": images,
            "prompt": prompt,
            "num_inference_steps": steps,
            "width": size[0],
            "height": size[1],
            "num_images_per_prompt": len(seeds),
            # CPU generators: the same seed gives the same picture on any device
            "generator": [torch.Generator("cpu").manual_seed(s) for s in seeds],
            "callback_on_step_end": on_step,
            **self.call_options(),
        }
        with torch.inference_mode():
            return list(self._pipe(**kwargs).images)

    def generate(self, jobs: list[Job], progress: Progress) -> list[Outcome]:
        groups: dict[tuple, list[int]] = {}
        for i, job in enumerate(jobs):
            s = job.spec
            key = (
                s.kind,
                s.male,
                s.female,
                s.pose,
                tuple(s.references),
                s.control,
                s.layout,
                s.prompt,
                s.width,
                s.height,
            )
            groups.setdefault(key, []).append(i)
        outcomes: list[Outcome | None] = [None] * len(jobs)
        for members in groups.values():
            first = jobs[members[0]]
            images, text = self.conditions(first)
            size = (first.spec.width, first.spec.height)
            results = self.run(images, text, size, [jobs[i].spec.seed for i in members], progress)
            for i, image in zip(members, results, strict=True):
                outcomes[i] = self._gate(jobs[i], image, images, text, progress)
        return [o for o in outcomes if o is not None]

    def _gate(
        self, job: Job, image: Image.Image, images: list[Image.Image], text: str, progress: Progress
    ) -> Outcome:
        seeds = [job.spec.seed]
        best, best_report = image, self._evaluate(job, image)
        for k in range(1, self._retries + 1):
            if not any(flag in GATED for flag in best_report.get("flags", [])):
                break
            seed = (job.spec.seed + k) % 2**32
            seeds.append(seed)
            [candidate] = self.run(
                images, text, (job.spec.width, job.spec.height), [seed], progress
            )
            report = self._evaluate(job, candidate)
            if _badness(report) < _badness(best_report):
                best, best_report = candidate, report
        passed = not any(flag in GATED for flag in best_report.get("flags", []))
        notes = {
            "identity_gate": {"attempts": len(seeds), "seeds": seeds, "passed": passed},
            **self.notes(),
        }
        return Outcome(image=best.convert("RGB"), notes=notes)
