"""FLUX.2 [klein] on a GPU: twoshot's way against the stock diffusers loop.

Builds the full-size architecture (4B: transformer 3.9 B, Qwen3-4B text encoder 4.0 B, VAE;
``--variant 9b`` for the 9B) with random weights directly on the GPU in bf16 (no download;
random weights time the same as real ones), and times a couple image at 1024² (man + woman +
pose skeleton as pictures 1–3) for each batch size:

- stock:    a plain loop of ``Flux2KleinPipeline(...)`` calls, one image each, with the
            references as users pass them (whole photos; the pipeline keeps each up to 1024²);
- twoshot:  the engine's settings: head-and-shoulders crops at ``--ref-size`` (512) on their
            longer side, one call per batch (``num_images_per_prompt``), the fastest attention
            backend diffusers offers here;
- twoshot+kv: the same through ``Flux2KleinKVPipeline`` (what a KV checkpoint gets: the
            references' keys and values computed at step 1, reused at steps 2–4).

Options to try what pays: ``--compile`` (regional ``torch.compile`` of the repeated blocks),
``--fp8`` (torchao float8 weights and activations, Hopper), ``--offload`` (model CPU offload,
for 16 GB cards). It reports seconds per image, images per hour, peak GPU memory, the
speed-up, and achieved FLOP/s as a share of the measured bf16 matmul peak (the floor counted
from the real shapes).

    python bench/gpu_flux2_klein.py                  # on a GPU: 4 steps, batch 1 2 4
    python bench/gpu_flux2_klein.py --compile --fp8  # the speed-ups, on Hopper
    python bench/gpu_flux2_klein.py --tiny           # anywhere: a tiny model, to check the script
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from common import QUICK, ROOT
from gpu_qwen_edit import default_device, fastest_attention, matmul_peak, sync
from tests.photos import load, side_by_side

from twoshot.engines.diffusion.prompting import couple_prompt, reference_crop, skeleton
from twoshot.engines.flux2_klein.random_weights import components


def forward_flops(config: Any, queries: int, keys: int) -> float:
    """FLOPs of one transformer forward: ``queries`` tokens go through the weights, and
    attend to ``keys`` tokens (more than ``queries`` when cached reference K/V are reused).
    Per token per block: attention projections 4·d² and the gated MLP 3·r·d² (r = 3),
    ×2 for multiply-add; attention 4·q·k·d per block."""
    d = config.num_attention_heads * config.attention_head_dim
    blocks = config.num_layers + config.num_single_layers
    linear = 2 * queries * (4 * d * d + 3 * config.mlp_ratio * d * d)
    attention = 4 * queries * keys * d
    return float(blocks * (linear + attention))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=["4b", "9b"], default="4b")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--ref-size", type=int, default=512)
    parser.add_argument("--compile", action="store_true", help="regional torch.compile")
    parser.add_argument("--fp8", action="store_true", help="torchao float8 (Hopper)")
    parser.add_argument("--offload", action="store_true", help="model CPU offload")
    parser.add_argument("--tiny", action="store_true", help="tiny random model on CPU")
    parser.add_argument("--out", default=None, help="write the JSON report here too")
    args = parser.parse_args()
    args.tiny = args.tiny or QUICK

    import torch
    from diffusers import Flux2KleinKVPipeline, Flux2KleinPipeline

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if args.tiny:
        args.size, args.ref_size, args.steps, args.batch = 256, 96, 2, [1, 2]

    started = time.perf_counter()
    with default_device(torch, "cpu" if args.offload else device, dtype):
        parts = components("tiny" if args.tiny else args.variant, seed=0)
    build_s = time.perf_counter() - started
    plain = Flux2KleinPipeline(**parts, is_distilled=True)
    kv = Flux2KleinKVPipeline(**parts)  # the same modules, KV-cache attention processors
    # the KV pipeline swapped the transformer's processors in place: give the plain one back
    # its own, so both pipelines measure what they are
    from diffusers.models.transformers.transformer_flux2 import (
        Flux2AttnProcessor,
        Flux2ParallelSelfAttnProcessor,
    )

    def plain_processors() -> None:
        for block in plain.transformer.transformer_blocks:
            block.attn.set_processor(Flux2AttnProcessor())
        for block in plain.transformer.single_transformer_blocks:
            block.attn.set_processor(Flux2ParallelSelfAttnProcessor())

    def kv_processors() -> None:
        kv._set_kv_attn_processors()

    for pipe in (plain, kv):
        pipe.set_progress_bar_config(disable=True)
        if args.offload:
            pipe.enable_model_cpu_offload(device=device)
    backend = fastest_attention(plain.transformer, device)  # one transformer, both pipelines
    if args.fp8:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, quantize_

        quantize_(plain.transformer, Float8DynamicActivationFloat8WeightConfig())
    if args.compile:
        plain.transformer.compile_repeated_blocks(fullgraph=True)

    man_photo, woman_photo = load("obama"), load("astronaut")
    pose = skeleton(side_by_side("obama2", "astronaut"), 2)
    crops = [reference_crop(man_photo, args.ref_size), reference_crop(woman_photo, args.ref_size)]
    stock_images = [man_photo, woman_photo] + ([pose] if pose is not None else [])
    ours_images = crops + ([pose] if pose is not None else [])
    prompt = couple_prompt(
        "a happy couple on a beach at sunset", with_pose=pose is not None, male_left=True
    )
    peak = matmul_peak(torch, device, dtype)

    def run(pipe: Any, images: list[Any], seeds: list[int], per_call: int) -> tuple[float, float]:
        (kv_processors if pipe is kv else plain_processors)()
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync(torch, device)
        start = time.perf_counter()
        extra = {} if pipe is kv else {"guidance_scale": 1.0}  # distilled: no CFG
        for i in range(0, len(seeds), per_call):
            chunk = seeds[i : i + per_call]
            pipe(
                **extra,
                image=images,
                prompt=prompt,
                num_inference_steps=args.steps,
                width=args.size,
                height=args.size,
                num_images_per_prompt=len(chunk),
                generator=[torch.Generator("cpu").manual_seed(s) for s in chunk],
            )
        sync(torch, device)
        seconds = (time.perf_counter() - start) / len(seeds)
        memory = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
        return seconds, memory

    run(plain, ours_images, [0], 1)  # warm-up: kernels, allocator, compilation
    run(kv, ours_images, [0], 1)
    rows = []
    for batch in args.batch:
        seeds = list(range(batch))
        row: dict[str, Any] = {"steps": args.steps, "batch": batch}
        for name, pipe, images, per_call in (
            ("stock", plain, stock_images, 1),
            ("twoshot", plain, ours_images, batch),
            ("twoshot_kv", kv, ours_images, batch),
        ):
            seconds, memory = run(pipe, images, seeds, per_call)
            row[name] = {
                "s_per_image": round(seconds, 3),
                "images_per_hour": round(3600 / seconds),
                "peak_gib": round(memory, 1),
            }
        row["speedup"] = round(row["stock"]["s_per_image"] / row["twoshot"]["s_per_image"], 2)
        row["speedup_kv"] = round(row["stock"]["s_per_image"] / row["twoshot_kv"]["s_per_image"], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)

    # the floor: FLOPs of the run at the measured matmul peak (16 px per token, text 512)
    image_tokens = (args.size // 16) ** 2
    text_tokens = 512  # the pipeline pads every prompt to max_sequence_length

    def ref_tokens(images: list[Any]) -> int:
        total = 0
        for im in images:
            w, h = im.size
            scale = min(1.0, (1024 * 1024 / (w * h)) ** 0.5)
            total += (int(w * scale) // 16) * (int(h * scale) // 16)
        return total

    config = plain.transformer.config
    floors = {}
    for name, images, cached in (
        ("stock", stock_images, False),
        ("twoshot", ours_images, False),
        ("twoshot_kv", ours_images, True),
    ):
        refs = ref_tokens(images)
        full = forward_flops(
            config, image_tokens + refs + text_tokens, image_tokens + refs + text_tokens
        )
        later = (
            forward_flops(config, image_tokens + text_tokens, image_tokens + refs + text_tokens)
            if cached
            else full
        )
        floors[name] = round((full + later * (args.steps - 1)) / peak, 3)
    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (tiny model)",
        "variant": "tiny" if args.tiny else args.variant,
        "dtype": str(dtype),
        "attention_backend": backend,
        "compile": args.compile,
        "fp8": args.fp8,
        "offload": args.offload,
        "build_seconds": round(build_s, 1),
        "matmul_peak_tflops": round(peak / 1e12, 1),
        "size": args.size,
        "reference_size": args.ref_size,
        "rows": rows,
        "floor_s_per_image_at_matmul_peak": floors,
        "achieved_over_floor": {
            str(r["batch"]): {k: round(floors[k] / r[k]["s_per_image"], 2) for k in floors}
            for r in rows
        },
    }
    print(json.dumps(report, indent=2))
    if args.out:
        (ROOT / args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
