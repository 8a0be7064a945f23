"""``flux2-klein``: multi-reference generation with FLUX.2 [klein] (Black Forest Labs) through
diffusers' ``Flux2KleinPipeline``, or ``Flux2KleinKVPipeline`` for checkpoints trained for
the reference KV cache (the references' keys and values are computed at the first step and
reused at the others). The 4B checkpoint is Apache-2.0 and makes a 1024² picture in 4
distilled steps in ~13 GB: the engine for 24 GB cards. Install with
``pip install '.[diffusion]'``.

What it shares with ``qwen-edit`` (the pictures and the prompt it is shown, progress, cancel,
seeds, batching, the identity gate) is in ``twoshot.engines.diffusion``. Its own: the step
count and guidance the checkpoint calls for (4 steps and no CFG when distilled, 50 steps at
guidance 4 for a base checkpoint), and references cropped to ``TWOSHOT_FLUX_REFERENCE_SIZE``
(512) on their longer side: the pipeline keeps each reference at its own size, so every
reference costs tokens in proportion to its area.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twoshot.config import Settings
from twoshot.engines.diffusion import DiffusionEngine, default_device
from twoshot.engines.flux2_klein.loading import (
    Checkpoint,
    LoadOptions,
    check_model_dir,
    load_pipeline,
)

__all__ = ["Flux2KleinEngine"]


class Flux2KleinEngine(DiffusionEngine):
    name = "flux2-klein"
    min_side = 64  # Flux2ImageProcessor refuses smaller pictures

    def __init__(
        self, settings: Settings, *, pipe: Any = None, evaluator: Callable[..., dict] | None = None
    ):
        if pipe is None:
            device = settings.device or default_device()
            model_dir = check_model_dir(settings.flux_model_dir or settings.model_dir)
            options = LoadOptions(
                device=device,
                dtype="bfloat16" if device.startswith("cuda") else "float32",
                offload=settings.flux_offload,
            )
            pipe, checkpoint = load_pipeline(model_dir, options)
        else:
            from diffusers import Flux2KleinKVPipeline

            kv = isinstance(pipe, Flux2KleinKVPipeline)
            checkpoint = Checkpoint(kv, bool(pipe.config.get("is_distilled", kv)), "custom")
        self.checkpoint = checkpoint
        super().__init__(
            pipe,
            steps=settings.flux_steps or (4 if checkpoint.distilled else 50),
            identity_retries=settings.flux_identity_retries,
            reference_size=settings.flux_reference_size,
            evaluator=evaluator,
        )
        default_guidance = 1.0 if checkpoint.distilled else 4.0
        self.guidance = (
            settings.flux_guidance if settings.flux_guidance is not None else default_guidance
        )

    def call_options(self) -> dict[str, Any]:
        # the KV pipeline serves distilled checkpoints only and takes no guidance
        return {} if self.checkpoint.kv else {"guidance_scale": self.guidance}

    def notes(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "guidance_scale": None if self.checkpoint.kv else self.guidance,
            "reference_kv_cache": self.checkpoint.kv,
        }
