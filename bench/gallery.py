"""Regenerate docs/gallery/contact-sheet.png: studio results for every mode and several
prompts, each labelled with its mode, prompt and identity scores.

    python bench/gallery.py
"""

from __future__ import annotations

from pathlib import Path

from common import ROOT
from PIL import Image, ImageDraw
from tests.photos import load, side_by_side

from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.engines.studio import StudioEngine
from twoshot.vision import IdentityEvaluator

TILE = 384
CASES = [
    (
        "couple · beach",
        JobSpec(
            kind="couple",
            male="obama",
            female="astronaut",
            prompt="happy couple at the beach",
            seed=1,
        ),
    ),
    (
        "couple · park",
        JobSpec(
            kind="couple", male="obama2", female="astronaut", prompt="walk in the park", seed=2
        ),
    ),
    (
        "couple · city night b&w",
        JobSpec(
            kind="couple",
            male="obama",
            female="astronaut",
            prompt="city at night, black and white",
            seed=3,
        ),
    ),
    (
        "couple · sunset, female_left",
        JobSpec(
            kind="couple",
            male="obama3",
            female="astronaut",
            prompt="sunset, warm",
            layout="female_left",
            seed=4,
        ),
    ),
    (
        "couple · snow",
        JobSpec(kind="couple", male="obama2", female="astronaut", prompt="winter snow", seed=5),
    ),
    (
        "couple · swap onto pose",
        JobSpec(kind="couple", male="obama2", female="astronaut", pose="pose", seed=6),
    ),
    (
        "person · studio",
        JobSpec(
            kind="person",
            references=["obama", "obama2"],
            prompt="studio portrait, soft light",
            seed=7,
        ),
    ),
    (
        "person · park",
        JobSpec(
            kind="person", references=["astronaut"], prompt="outdoor portrait in a park", seed=8
        ),
    ),
    (
        "person · swap onto control",
        JobSpec(kind="person", references=["obama"], control="astronaut", seed=9),
    ),
]


def main() -> None:
    images = {n: load(n) for n in ("obama", "obama2", "obama3", "astronaut")}
    images["pose"] = side_by_side("astronaut", "obama3")
    engine, evaluator = StudioEngine(), IdentityEvaluator()
    cols = 3
    rows = (len(CASES) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * TILE, rows * (TILE + 36)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, spec) in enumerate(CASES):
        job = Job(label, spec, images)
        [outcome] = engine.generate([job], lambda _f: None)
        assert outcome.image is not None, outcome.error
        report = evaluator(job, outcome.image)
        scores = " ".join(
            f"{p['role'][0]}:{p.get('distance', float('nan')):.2f}" for p in report["persons"]
        )
        flags = ",".join(report["flags"]) or "ok"
        x, y = (i % cols) * TILE, (i // cols) * (TILE + 36)
        sheet.paste(outcome.image.resize((TILE, TILE), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + 6, y + TILE + 3), label, fill=(0, 0, 0))
        draw.text((x + 6, y + TILE + 18), f"distance {scores}  [{flags}]", fill=(90, 90, 90))
    out = Path(ROOT) / "docs" / "gallery" / "contact-sheet.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main()
