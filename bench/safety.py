"""The content policy, measured (twoshot.safety):

- cost per picture of the nudity screen (open_nsfw) and of the apparent-age estimate
  (face detection + the age network), models warm;
- false refusals of the prompt policy on tests/data/ordinary_prompts.txt, and its cost;
- the highest nudity score on the safe set: every test photo, every gallery picture
  (tests/gallery.py), and renders of every engine's CPU path: studio over the gallery cases
  with other seeds and prompts, and the tiny random-weight qwen-edit and flux2-klein
  pipelines of the tests. ``TWOSHOT_NSFW_THRESHOLD``'s default must sit above it.

    python bench/safety.py [--renders 100] [--diffusion 6]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, median_ms, quick
from PIL import Image
from tests.gallery import CASES, gallery_images
from tests.photos import load, side_by_side

from twoshot.domain import JobSpec
from twoshot.engines import Engine, Job, load_engine
from twoshot.safety import DEFAULT_MIN_APPARENT_AGE, DEFAULT_NSFW_THRESHOLD, NsfwModel
from twoshot.safety.prompts import PromptPolicy
from twoshot.vision import detect_faces, estimate

PHOTOS = ("obama", "obama2", "obama3", "astronaut")


def ordinary_prompts() -> list[str]:
    text = (ROOT / "tests" / "data" / "ordinary_prompts.txt").read_text()
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def render(engine: Engine, spec: JobSpec, images: dict[str, Image.Image]) -> Image.Image:
    [outcome] = engine.generate([Job("bench", spec, images)], lambda _f: None)
    assert outcome.image is not None, outcome.error
    return outcome.image


def studio_renders(n: int, prompts: list[str]) -> list[tuple[str, Image.Image]]:
    """The gallery's cases again with other seeds and the ordinary prompts' scenes."""
    from twoshot.engines.studio import StudioEngine

    engine, images = StudioEngine(), gallery_images()
    out = []
    for i in range(n):
        label, spec = CASES[i % len(CASES)]
        spec = spec.model_copy(update={"seed": 1000 + i, "prompt": prompts[i % len(prompts)]})
        out.append((f"studio {label} #{i}", render(engine, spec, images)))
    return out


def diffusion_renders(n: int, tmp: Path) -> list[tuple[str, Image.Image]]:
    """The tests' tiny random-weight pipelines (2 steps, CPU), couple and person."""
    try:
        import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus
    except ImportError:
        print("diffusers not installed: no diffusion renders")
        return []
    from twoshot.config import Settings
    from twoshot.engines.flux2_klein import random_weights as flux_rw
    from twoshot.engines.qwen_edit import random_weights as qwen_rw

    plus.CONDITION_IMAGE_SIZE, plus.VAE_IMAGE_SIZE = 56 * 56, 64 * 64  # as the tests do
    qwen = qwen_rw.save_checkpoint(qwen_rw.components("tiny"), tmp / "qwen")
    flux = flux_rw.save_checkpoint(flux_rw.components("tiny"), tmp / "flux")
    common = {"data_dir": tmp / "data", "device": "cpu"}
    engines = {
        "qwen-edit": Settings(
            **common,
            model_dir=qwen,
            qwen_steps=2,
            qwen_cfg=1.0,
            qwen_identity_retries=0,
            qwen_reference_size=64,
        ),
        "flux2-klein": Settings(
            **common,
            flux_model_dir=flux,
            flux_steps=2,
            flux_identity_retries=0,
            flux_reference_size=64,
        ),
    }
    images = {"m": load("obama"), "f": load("astronaut"), "p": side_by_side("astronaut", "obama3")}
    out = []
    for name, settings in engines.items():
        engine = load_engine(name, settings)
        for i in range(n):
            if i % 2 == 0:
                spec = JobSpec(
                    kind="couple", male="m", female="f", pose="p", prompt="beach", seed=i
                )
            else:
                spec = JobSpec(kind="person", references=["m"], prompt="studio portrait", seed=i)
            spec = spec.model_copy(update={"width": 256, "height": 256})
            out.append((f"{name} {spec.kind} #{i}", render(engine, spec, images)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=quick(100, 3))
    parser.add_argument("--diffusion", type=int, default=quick(6, 1))
    parser.add_argument("--runs", type=int, default=quick(30, 2))
    args = parser.parse_args()
    model = NsfwModel.shared()

    # cost per picture
    result = side_by_side("obama2", "astronaut", height=1024)
    reference = np.asarray(load("obama"))
    screen_ms = median_ms(lambda: model(result), args.runs)

    def age() -> None:
        faces = detect_faces(reference)
        estimate(reference, faces[0])

    age_ms = median_ms(age, args.runs)
    print(f"nudity screen, one 1024² picture: median {screen_ms[0]:.1f} ms, p90 {screen_ms[1]:.1f}")
    print(
        f"apparent age, one reference (detect + estimate): median {age_ms[0]:.1f} ms, "
        f"p90 {age_ms[1]:.1f}"
    )
    for name in PHOTOS:
        rgb = np.asarray(load(name))
        print(f"  apparent age {name}: {estimate(rgb, detect_faces(rgb)[0]).age:.1f}")

    # the prompt policy
    policy = PromptPolicy.load()
    prompts = ordinary_prompts()
    start = time.perf_counter()
    refused = [(p, r) for p in prompts if (r := policy.violation(p))]
    per_prompt = (time.perf_counter() - start) / len(prompts) * 1000
    print(
        f"prompt policy: {len(refused)} false refusal(s) of {len(prompts)} ordinary prompts, "
        f"{per_prompt:.2f} ms a prompt ({len(policy.rules)} rules)"
    )
    for p, r in refused:
        print(f"  refused ({r}): {p}")

    # the safe set
    scored: list[tuple[float, str]] = []
    for name in PHOTOS:
        scored.append((model(load(name)), f"photo {name}"))
    for name, image in gallery_images().items():
        scored.append((model(image), f"gallery input {name}"))
    from twoshot.engines.studio import StudioEngine

    studio, images = StudioEngine(), gallery_images()
    for label, spec in CASES:
        scored.append((model(render(studio, spec, images)), f"gallery {label}"))
    start = time.perf_counter()
    renders = studio_renders(args.renders, prompts)
    with tempfile.TemporaryDirectory() as tmp:
        renders += diffusion_renders(args.diffusion, Path(tmp))
    print(f"{len(renders)} renders in {time.perf_counter() - start:.0f} s")
    scored += [(model(image), label) for label, image in renders]
    scored.sort(reverse=True)
    print(f"safe set: {len(scored)} pictures; highest nudity scores:")
    for score, label in scored[:5]:
        print(f"  {score:.4f}  {label}")
    by_kind: dict[str, float] = {}
    for score, label in scored:
        kind = label.split()[0]
        by_kind[kind] = max(by_kind.get(kind, 0.0), score)
    print("highest by kind: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(by_kind.items())))
    print(
        f"default threshold {DEFAULT_NSFW_THRESHOLD}; default minimum apparent age "
        f"{DEFAULT_MIN_APPARENT_AGE}"
    )
    assert scored[0][0] < DEFAULT_NSFW_THRESHOLD, "a safe picture is over the default threshold"


if __name__ == "__main__":
    main()
