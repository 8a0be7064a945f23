"""Loading Qwen-Image-Edit(-2509/-2511) from ``TWOSHOT_MODEL_DIR``, in the checkpoint's own
layout, every component with ``local_files_only=True`` (``diffusion.checkpoint``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twoshot.engines.diffusion.checkpoint import ModelDirError
from twoshot.engines.diffusion.checkpoint import check_model_dir as _check

__all__ = ["REQUIRED", "LoadOptions", "ModelDirError", "check_model_dir", "load_pipeline"]

# what a Qwen-Image-Edit checkpoint directory holds (as published, or as saved by
# ``pipe.save_pretrained``); each entry: a path, or alternatives separated by "|"
REQUIRED = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "transformer/config.json",
    "transformer/*.safetensors",
    "vae/config.json",
    "vae/*.safetensors",
    "text_encoder/config.json",
    "text_encoder/*.safetensors",
    "tokenizer/tokenizer.json|tokenizer/vocab.json",
    "processor/preprocessor_config.json|processor/processor_config.json",
]


def check_model_dir(model_dir: Path | None) -> Path:
    return _check(
        model_dir,
        REQUIRED,
        setting="TWOSHOT_MODEL_DIR",
        what="Qwen-Image-Edit-2509 (or -2511)",
    )


def image_only_processor_class() -> Any:
    """``Qwen2VLProcessor`` without its video processor, which needs torchvision.

    transformers infers a processor's parts from its ``__init__`` signature, so leaving
    ``video_processor`` out of it is enough; images go through the PIL image processor.
    """
    from transformers import Qwen2VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
        def __init__(
            self,
            image_processor: Any = None,
            tokenizer: Any = None,
            chat_template: Any = None,
            **kwargs: Any,
        ):
            self.image_token = "<|image_pad|>"
            self.video_token = "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            self.video_processor = None
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwen2VLProcessor


def load_processor(path: Path) -> Any:
    from transformers import Qwen2VLProcessor

    try:
        return Qwen2VLProcessor.from_pretrained(path, local_files_only=True)
    except (ImportError, AttributeError, ValueError, TypeError, OSError):
        # no torchvision (e.g. a CPU-only install): the image-only processor does the same job
        return image_only_processor_class().from_pretrained(path, local_files_only=True)


@dataclass(frozen=True)
class LoadOptions:
    device: str
    dtype: str  # "bfloat16", "float16" or "float32"
    lora: Path | None = None
    offload: bool = False


def load_pipeline(model_dir: Path, options: LoadOptions) -> Any:
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPlusPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer

    check_model_dir(model_dir)
    dtype = getattr(torch, options.dtype)
    local = {"local_files_only": True}
    pipe = QwenImageEditPlusPipeline(
        transformer=QwenImageTransformer2DModel.from_pretrained(
            model_dir / "transformer", torch_dtype=dtype, **local
        ),
        vae=AutoencoderKLQwenImage.from_pretrained(model_dir / "vae", torch_dtype=dtype, **local),
        text_encoder=Qwen2_5_VLForConditionalGeneration.from_pretrained(
            model_dir / "text_encoder", torch_dtype=dtype, **local
        ),
        tokenizer=Qwen2Tokenizer.from_pretrained(model_dir / "tokenizer", **local),
        processor=load_processor(model_dir / "processor"),
        scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(model_dir / "scheduler", **local),
    )
    if options.lora is not None:
        if not options.lora.is_file():
            raise ModelDirError(f"TWOSHOT_QWEN_LORA {options.lora} is not a file")
        pipe.load_lora_weights(str(options.lora))
        pipe.fuse_lora()
    if options.offload:
        pipe.enable_model_cpu_offload(device=options.device)
    else:
        pipe.to(options.device)
    pipe.set_progress_bar_config(disable=True)
    return pipe
