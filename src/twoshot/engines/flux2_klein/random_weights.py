"""The FLUX.2 [klein] architecture with random weights, built from configs with no download:
``tiny`` for tests on CPU; ``4b`` and ``9b`` (the published shapes) for the GPU benchmark and
the parameter-count test.

The tokenizer is a byte-level BPE without merges with Qwen3's chat template, built in
memory (as for qwen-edit: prompts come out longer in tokens than with Qwen's real BPE, which
does not matter, since the pipeline pads every prompt to 512 tokens). The tiny text encoder
keeps 28 layers, because the pipeline reads hidden states 9, 18 and 27.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twoshot.engines.qwen_edit.random_weights import tokenizer as byte_tokenizer

# Qwen3's template, as the pipeline calls it (no tools, thinking off)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "<think>\n\n</think>\n\n{% endif %}{% endif %}"
)

# FLUX.2 [klein] transformer shapes as published (transformer/config.json), and the Qwen3
# text encoders they read (joint_attention_dim = 3 stacked layers × the encoder's width)
SHAPES: dict[str, dict[str, Any]] = {
    "4b": {
        "transformer": {"num_layers": 5, "num_single_layers": 20, "num_attention_heads": 24},
        "text": {
            "hidden_size": 2560,
            "intermediate_size": 9728,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "tie_word_embeddings": True,
        },
    },
    "9b": {
        "transformer": {"num_layers": 8, "num_single_layers": 24, "num_attention_heads": 32},
        "text": {
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "tie_word_embeddings": False,
        },
    },
}


def tokenizer() -> Any:
    tok = byte_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    return tok


def components(size: str = "tiny", seed: int = 0) -> dict[str, Any]:
    """The pipeline's components, random weights, on the default device and dtype."""
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tok = tokenizer()
    torch.manual_seed(seed)
    if size == "tiny":
        text = Qwen3Config(
            vocab_size=len(tok),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=28,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=1024,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        transformer = Flux2Transformer2DModel(
            patch_size=1,
            in_channels=16,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=3 * 16,
            timestep_guidance_channels=32,
            axes_dims_rope=(4, 4, 4, 4),
            guidance_embeds=False,
        )
        vae = AutoencoderKLFlux2(
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            norm_num_groups=4,
            layers_per_block=1,
        )
    else:
        shape = SHAPES[size]
        text = Qwen3Config(
            vocab_size=151936,
            head_dim=128,
            max_position_embeddings=40960,
            rope_theta=1000000.0,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            **shape["text"],
        )
        transformer = Flux2Transformer2DModel(
            patch_size=1,
            in_channels=128,
            attention_head_dim=128,
            joint_attention_dim=3 * shape["text"]["hidden_size"],
            timestep_guidance_channels=256,
            mlp_ratio=3.0,
            axes_dims_rope=(32, 32, 32, 32),
            rope_theta=2000,
            eps=1e-6,
            guidance_embeds=False,
            **shape["transformer"],
        )
        vae = AutoencoderKLFlux2()  # the defaults are FLUX.2's own VAE
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": Qwen3ForCausalLM(text),
        "tokenizer": tok,
        "scheduler": FlowMatchEulerDiscreteScheduler(
            shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15
        ),
    }


def save_checkpoint(parts: dict[str, Any], directory: Path, *, kv: bool = False) -> Path:
    """Save in the published checkpoint's layout (distilled, like FLUX.2-klein-4B; with
    ``kv``, as a KV-cache checkpoint), loadable by ``loading.load_pipeline``."""
    from diffusers import Flux2KleinKVPipeline, Flux2KleinPipeline

    cls = Flux2KleinKVPipeline if kv else Flux2KleinPipeline
    pipe = cls(**parts, is_distilled=True) if not kv else cls(**parts)
    pipe.save_pretrained(directory, safe_serialization=True)
    index_path = directory / "model_index.json"
    index = json.loads(index_path.read_text())
    index["is_distilled"] = True
    index_path.write_text(json.dumps(index, indent=2))
    return directory
