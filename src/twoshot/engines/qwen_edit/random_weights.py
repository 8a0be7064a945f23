"""The Qwen-Image-Edit architecture with random weights, built from configs with no download:
``tiny`` for tests on CPU, ``full`` (20.4 B + 8.3 B parameters) for the GPU benchmark.

The tokenizer is a byte-level BPE without merges (the 256 byte characters plus Qwen's
special tokens), built in memory; the text encoder's special-token ids are set to the ids
this tokenizer gives them. With random weights the vocabulary is irrelevant, but prompts
come out about 4× longer in tokens than with Qwen's real BPE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPECIALS = [
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


# Qwen-Image's published scheduler settings (dynamic shift, exponential time shift)
QWEN_SCHEDULER = {
    "base_image_seq_len": 256,
    "base_shift": 0.5 * 2.1972245773362196,  # ln 3
    "max_image_seq_len": 8192,
    "max_shift": 0.9,
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "shift_terminal": 0.02,
    "time_shift_type": "exponential",
    "use_dynamic_shifting": True,
}


def tokenizer() -> Any:
    from tokenizers import pre_tokenizers
    from transformers import Qwen2Tokenizer

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIALS,
    )


def processor(tok: Any, max_pixels: int) -> Any:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from twoshot.engines.qwen_edit.loading import image_only_processor_class

    images = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=max_pixels)
    return image_only_processor_class()(image_processor=images, tokenizer=tok)


def _text_config(tok: Any, tiny: bool) -> Any:
    from transformers import Qwen2_5_VLConfig

    ids = {s: tok.convert_tokens_to_ids(s) for s in SPECIALS}
    text: dict[str, Any]
    vision: dict[str, Any]
    if tiny:
        text = {
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
        }
        vision = {
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": 16,
        }
        hidden = 16
    else:  # Qwen2.5-VL-7B, the text encoder of Qwen-Image-Edit
        text = {
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "rope_scaling": {
                "mrope_section": [16, 24, 24],
                "rope_type": "default",
                "type": "default",
            },
        }
        vision = {
            "depth": 32,
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "num_heads": 16,
            "out_hidden_size": 3584,
            "window_size": 112,
            "fullatt_block_indexes": [7, 15, 23, 31],
        }
        hidden = 3584
    # full size keeps Qwen's vocabulary size (its embedding and head are 1.1 B parameters);
    # the byte-level tokenizer's ids all fall inside it
    vocab = len(tok) if tiny else 152064
    text.update(
        rope_theta=1000000.0, vocab_size=vocab, bos_token_id=None, eos_token_id=tok.eos_token_id
    )
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        hidden_size=hidden,
        vocab_size=vocab,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        vision_token_id=ids["<|vision_pad|>"],
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
    )


def components(size: str = "tiny", seed: int = 0) -> dict[str, Any]:
    """The pipeline's components, random weights, on the default device and dtype."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLForConditionalGeneration

    tiny = size == "tiny"
    tok = tokenizer()
    torch.manual_seed(seed)
    if tiny:  # the shapes of diffusers' own fast tests
        transformer = QwenImageTransformer2DModel(
            patch_size=2,
            in_channels=16,
            out_channels=4,
            num_layers=2,
            attention_head_dim=16,
            num_attention_heads=3,
            joint_attention_dim=16,
            guidance_embeds=False,
            axes_dims_rope=(8, 4, 4),
        )
        vae = AutoencoderKLQwenImage(
            base_dim=24,
            z_dim=4,
            dim_mult=[1, 2, 4],
            num_res_blocks=1,
            temperal_downsample=[False, True],
            latents_mean=[0.0] * 4,
            latents_std=[1.0] * 4,
        )
    else:  # the defaults are Qwen-Image's own shapes
        transformer = QwenImageTransformer2DModel()
        vae = AutoencoderKLQwenImage()
    text_encoder = Qwen2_5_VLForConditionalGeneration(_text_config(tok, tiny))
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tok,
        "processor": processor(tok, max_pixels=28 * 28 * 16 if tiny else 384 * 384),
        "scheduler": FlowMatchEulerDiscreteScheduler()
        if tiny
        else FlowMatchEulerDiscreteScheduler(**QWEN_SCHEDULER),
    }


def save_checkpoint(parts: dict[str, Any], directory: Path) -> Path:
    """Save in the published checkpoint's layout, loadable by ``loading.load_pipeline``."""
    from diffusers import QwenImageEditPlusPipeline

    QwenImageEditPlusPipeline(**parts).save_pretrained(directory, safe_serialization=True)
    index_path = directory / "model_index.json"
    index = json.loads(index_path.read_text())
    index["processor"] = ["transformers", "Qwen2VLProcessor"]  # as in the published checkpoint
    index_path.write_text(json.dumps(index, indent=2))
    return directory
