"""Loading Qwen-Image-Edit(-2509/-2511) from a local directory in the checkpoint's own layout.

Nothing is downloaded, ever: every component is loaded with ``local_files_only=True`` from
``TWOSHOT_MODEL_DIR``. A missing or incomplete directory stops the worker at start with a
message that names what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class ModelDirError(RuntimeError):
    pass


def missing_files(model_dir: Path) -> list[str]:
    missing = []
    for entry in REQUIRED:
        if not any(any(model_dir.glob(alt)) for alt in entry.split("|")):
            missing.append(entry.replace("|", " or "))
    return missing


def check_model_dir(model_dir: Path | None) -> Path:
    if model_dir is None:
        raise ModelDirError(
            "the qwen-edit engine needs TWOSHOT_MODEL_DIR: a local copy of Qwen-Image-Edit-2509 "
            "(or -2511) in its own layout; twoshot never downloads weights"
        )
    if not model_dir.is_dir():
        raise ModelDirError(f"TWOSHOT_MODEL_DIR {model_dir} is not a directory")
    missing = missing_files(model_dir)
    if missing:
        raise ModelDirError(
            f"TWOSHOT_MODEL_DIR {model_dir} is incomplete; missing: {', '.join(missing)}"
        )
    return model_dir


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
