"""``qwen-edit``: multi-reference generation with Qwen-Image-Edit (2509 / 2511) through
diffusers' ``QwenImageEditPlusPipeline``, on a GPU. Install with ``pip install '.[diffusion]'``.

What it shares with ``flux2-klein`` (the pictures and the prompt it is shown, progress,
cancel, seeds, batching, the identity gate) is in ``twoshot.engines.diffusion``. Its own:

- 40 steps with true CFG 4 (8 steps and no CFG with a step-distilled LoRA);
- references enter the VAE at ``TWOSHOT_QWEN_REFERENCE_SIZE``² (512²) instead of the
  pipeline's 1024², which halves the sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twoshot.config import Settings
from twoshot.engines.diffusion import DiffusionEngine, default_device
from twoshot.engines.qwen_edit.loading import LoadOptions, check_model_dir, load_pipeline

__all__ = ["QwenEditEngine"]


class QwenEditEngine(DiffusionEngine):
    name = "qwen-edit"

    def __init__(
        self, settings: Settings, *, pipe: Any = None, evaluator: Callable[..., dict] | None = None
    ):
        device = settings.device or default_device()
        lora = settings.qwen_lora
        if pipe is None:
            options = LoadOptions(
                device=device,
                dtype="bfloat16" if device.startswith("cuda") else "float32",
                lora=lora,
                offload=settings.qwen_offload,
            )
            pipe = load_pipeline(check_model_dir(settings.model_dir), options)
        # The pipeline sizes every reference for its VAE to ~1024² (a module constant), so
        # three references cost three times the output's tokens. Head-and-shoulders crops
        # and a skeleton lose nothing at 512²; the sequence, and the time, shrink by half.
        import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus

        plus.VAE_IMAGE_SIZE = settings.qwen_reference_size**2
        super().__init__(
            pipe,
            steps=settings.qwen_steps or (8 if lora else 40),
            identity_retries=settings.qwen_identity_retries,
            evaluator=evaluator,
        )
        self.cfg = settings.qwen_cfg if settings.qwen_cfg is not None else (1.0 if lora else 4.0)

    def call_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"true_cfg_scale": self.cfg}
        if self.cfg > 1:
            options["negative_prompt"] = " "
        return options

    def notes(self) -> dict[str, Any]:
        return {"steps": self.steps, "true_cfg_scale": self.cfg}
