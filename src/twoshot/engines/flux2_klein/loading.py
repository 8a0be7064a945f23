"""Loading FLUX.2 [klein] from ``TWOSHOT_FLUX_MODEL_DIR`` (else ``TWOSHOT_MODEL_DIR``), in
the checkpoint's own layout, every component with ``local_files_only=True``.

What the checkpoint is, it says itself: ``model_index.json`` names its pipeline class
(``Flux2KleinKVPipeline`` for the checkpoints trained for the reference KV cache) and whether
it is step-distilled (``is_distilled``: 4 steps, no CFG; the base checkpoints take ~50 steps
with CFG); the transformer's config tells the 4B from the 9B.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twoshot.engines.diffusion.checkpoint import ModelDirError
from twoshot.engines.diffusion.checkpoint import check_model_dir as _check

log = logging.getLogger(__name__)

__all__ = ["REQUIRED", "Checkpoint", "LoadOptions", "ModelDirError", "check_model_dir"]

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
]


def check_model_dir(model_dir: Path | None) -> Path:
    return _check(
        model_dir,
        REQUIRED,
        setting="TWOSHOT_FLUX_MODEL_DIR (or TWOSHOT_MODEL_DIR)",
        what="FLUX.2 [klein] (4B, 4B base or 9B)",
    )


@dataclass(frozen=True)
class Checkpoint:
    kv: bool  # trained for the reference KV cache: use Flux2KleinKVPipeline
    distilled: bool  # 4 steps, no CFG
    variant: str  # "4B", "9B" or "custom"


def inspect(model_dir: Path) -> Checkpoint:
    try:
        index = json.loads((model_dir / "model_index.json").read_text())
        config = json.loads((model_dir / "transformer" / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"cannot read the checkpoint's configs in {model_dir}: {exc}") from None
    kind = index.get("_class_name", "")
    if kind not in ("Flux2KleinPipeline", "Flux2KleinKVPipeline"):
        raise ModelDirError(
            f"{model_dir}/model_index.json names {kind!r}: not a FLUX.2 [klein] checkpoint"
        )
    heads = config.get("num_attention_heads")
    variant = {24: "4B", 32: "9B"}.get(heads, "custom")
    kv = kind == "Flux2KleinKVPipeline"
    return Checkpoint(kv=kv, distilled=bool(index.get("is_distilled", kv)), variant=variant)


@dataclass(frozen=True)
class LoadOptions:
    device: str
    dtype: str  # "bfloat16", "float16" or "float32"
    offload: bool = False


def load_pipeline(model_dir: Path, options: LoadOptions) -> tuple[Any, Checkpoint]:
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinKVPipeline,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import AutoTokenizer, Qwen3ForCausalLM

    check_model_dir(model_dir)
    checkpoint = inspect(model_dir)
    if checkpoint.variant == "9B":
        log.warning(
            "FLUX.2 [klein] 9B is under the FLUX Non-Commercial License: it may not serve a "
            "commercial product. The 4B checkpoints are Apache-2.0."
        )
    dtype = getattr(torch, options.dtype)
    local = {"local_files_only": True}
    parts = {
        "transformer": Flux2Transformer2DModel.from_pretrained(
            model_dir / "transformer", torch_dtype=dtype, **local
        ),
        "vae": AutoencoderKLFlux2.from_pretrained(model_dir / "vae", torch_dtype=dtype, **local),
        "text_encoder": Qwen3ForCausalLM.from_pretrained(
            model_dir / "text_encoder", torch_dtype=dtype, **local
        ),
        "tokenizer": AutoTokenizer.from_pretrained(model_dir / "tokenizer", **local),
        "scheduler": FlowMatchEulerDiscreteScheduler.from_pretrained(
            model_dir / "scheduler", **local
        ),
    }
    if checkpoint.kv:
        pipe = Flux2KleinKVPipeline(**parts, is_distilled=checkpoint.distilled)
    else:
        pipe = Flux2KleinPipeline(**parts, is_distilled=checkpoint.distilled)
    if options.offload:
        pipe.enable_model_cpu_offload(device=options.device)
    else:
        pipe.to(options.device)
    pipe.set_progress_bar_config(disable=True)
    return pipe, checkpoint
