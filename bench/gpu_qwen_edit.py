"""Qwen-Image-Edit on a GPU: twoshot's way against the stock diffusers loop.

Builds the full-size architecture (transformer 20.4 B, Qwen2.5-VL text encoder 8.3 B, VAE)
with random weights directly on the GPU in bf16 (no download), and times a couple image at
1024² (man + woman + pose skeleton as pictures 1–3) for each step count and batch size:

- stock:   a plain loop of ``pipe(...)`` calls, one image each, references at the pipeline's
           default sizes (VAE 1024², vision encoder 384²): the usual diffusers usage;
- twoshot: the engine's settings: one call per batch (``num_images_per_prompt``: prompt and
           references encoded once), references at ``--ref-size`` (default 512²) for the VAE,
           and the fastest attention backend diffusers offers on the machine.

It reports seconds per image, peak GPU memory, the speed-up, and the compute floor counted
from the real shapes (FLOPs of one forward at the measured bf16 matmul peak).

    python bench/gpu_qwen_edit.py                     # on a GPU: steps 8 and 40, batch 1 2 4
    python bench/gpu_qwen_edit.py --tiny              # anywhere: a tiny model, to check the script
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from typing import Any

from common import QUICK, ROOT
from tests.photos import load, side_by_side

from twoshot.engines.diffusion.prompting import couple_prompt, reference_crop, skeleton
from twoshot.engines.qwen_edit.random_weights import components


@contextmanager
def default_device(torch: Any, device: str, dtype: Any):  # type: ignore[no-untyped-def]
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    with torch.device(device):
        try:
            yield
        finally:
            torch.set_default_dtype(old_dtype)


def matmul_peak(torch: Any, device: str, dtype: Any) -> float:
    """Achieved FLOP/s of a large matmul: the realistic ceiling of this GPU."""
    n = 8192 if device.startswith("cuda") else 512
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(torch, device)
    runs = 20 if device.startswith("cuda") else 3
    start = time.perf_counter()
    for _ in range(runs):
        a @ b
    sync(torch, device)
    return 2 * n**3 * runs / (time.perf_counter() - start)


def sync(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def fastest_attention(transformer: Any, device: str) -> str:
    """Set the fastest attention backend diffusers offers on this machine; its name."""
    if device == "cuda":
        for candidate in ("_flash_3_hub", "flash", "_native_cudnn", "_native_flash"):
            try:
                transformer.set_attention_backend(candidate)
                return candidate
            except Exception:
                continue
    return "default"


def forward_flops(
    transformer_config: Any, image_tokens: int, reference_tokens: int, text_tokens: int
) -> float:
    """FLOPs of one transformer forward, from its shapes. Each token passes through its own
    stream's weights (image or text): attention projections 4·d² and the MLP 2·d·ff per
    token per block, ×2 for multiply-add; joint attention 4·L²·d per block."""
    d = transformer_config.num_attention_heads * transformer_config.attention_head_dim
    ff = 4 * d
    blocks = transformer_config.num_layers
    tokens = image_tokens + reference_tokens + text_tokens
    linear = 2 * tokens * (4 * d * d + 2 * d * ff)
    attention = 4 * tokens * tokens * d
    return float(blocks * (linear + attention))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 40])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument(
        "--ref-size", type=int, default=512, help="twoshot's VAE size for references"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="tiny random model on CPU: checks the script"
    )
    parser.add_argument("--out", default=None, help="write the JSON report here too")
    args = parser.parse_args()
    args.tiny = args.tiny or QUICK

    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus
    import torch
    from diffusers import QwenImageEditPlusPipeline

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if args.tiny:
        args.size, args.ref_size, args.steps, args.batch = 256, 64, [2], [1, 2]
        stock_sizes = (56 * 56, 128 * 128)
    else:
        stock_sizes = (plus.CONDITION_IMAGE_SIZE, plus.VAE_IMAGE_SIZE)

    started = time.perf_counter()
    with default_device(torch, device, dtype):
        parts = components("tiny" if args.tiny else "full", seed=0)
    pipe = QwenImageEditPlusPipeline(**parts)
    pipe.set_progress_bar_config(disable=True)
    build_s = time.perf_counter() - started
    backend = fastest_attention(pipe.transformer, device)

    man, woman = reference_crop(load("obama")), reference_crop(load("astronaut"))
    pose = skeleton(side_by_side("obama2", "astronaut"), 2)
    images = [man, woman] + ([pose] if pose is not None else [])
    prompt = couple_prompt(
        "a happy couple on a beach at sunset", with_pose=pose is not None, male_left=True
    )
    peak = matmul_peak(torch, device, dtype)

    def run(
        steps: int, seeds: list[int], per_call: int, sizes: tuple[int, int]
    ) -> tuple[float, float]:
        plus.CONDITION_IMAGE_SIZE, plus.VAE_IMAGE_SIZE = sizes
        cfg = 4.0 if steps >= 20 else 1.0  # distilled few-step runs go without CFG
        extra = {"negative_prompt": " "} if cfg > 1 else {}
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync(torch, device)
        start = time.perf_counter()
        for i in range(0, len(seeds), per_call):
            chunk = seeds[i : i + per_call]
            pipe(
                image=images,
                prompt=prompt,
                num_inference_steps=steps,
                true_cfg_scale=cfg,
                width=args.size,
                height=args.size,
                num_images_per_prompt=len(chunk),
                generator=[torch.Generator("cpu").manual_seed(s) for s in chunk],
                **extra,
            )
        sync(torch, device)
        seconds = (time.perf_counter() - start) / len(seeds)
        memory = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
        return seconds, memory

    twoshot_sizes = (stock_sizes[0], args.ref_size * args.ref_size)
    run(args.steps[0], [0], 1, twoshot_sizes)  # warm-up: kernels, allocator
    rows = []
    for steps in args.steps:
        for batch in args.batch:
            seeds = list(range(batch))
            stock_s, stock_mem = run(steps, seeds, 1, stock_sizes)
            ours_s, ours_mem = run(steps, seeds, batch, twoshot_sizes)
            rows.append(
                {
                    "steps": steps,
                    "batch": batch,
                    "stock_s_per_image": round(stock_s, 3),
                    "stock_peak_gib": round(stock_mem, 1),
                    "twoshot_s_per_image": round(ours_s, 3),
                    "twoshot_peak_gib": round(ours_mem, 1),
                    "speedup": round(stock_s / ours_s, 2),
                }
            )
            print(json.dumps(rows[-1]), flush=True)

    latent = args.size // 16
    text_tokens = 700 if not args.tiny else 200
    cfg_factor = {s: (2 if s >= 20 else 1) for s in args.steps}
    floors = {}
    for name, vae_pixels in (("stock", stock_sizes[1]), ("twoshot", args.ref_size**2)):
        refs = len(images) * (vae_pixels // 256)  # 16 px per token after the VAE and patching
        flops = forward_flops(pipe.transformer.config, latent * latent, refs, text_tokens)
        floors[name] = {s: round(flops * s * cfg_factor[s] / peak, 3) for s in args.steps}
    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (tiny model)",
        "dtype": str(dtype),
        "attention_backend": backend,
        "build_seconds": round(build_s, 1),
        "matmul_peak_tflops": round(peak / 1e12, 1),
        "size": args.size,
        "twoshot_reference_vae_size": args.ref_size,
        "rows": rows,
        "floor_s_per_image_at_matmul_peak": floors,
        "achieved_over_floor": {
            f"{r['steps']}x{r['batch']}": {
                "stock": round(floors["stock"][r["steps"]] / r["stock_s_per_image"], 2),
                "twoshot": round(floors["twoshot"][r["steps"]] / r["twoshot_s_per_image"], 2),
            }
            for r in rows
        },
    }
    print(json.dumps(report, indent=2))
    if args.out:
        (ROOT / args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
