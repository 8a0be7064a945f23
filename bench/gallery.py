"""Regenerate docs/gallery/contact-sheet.png: studio results for every mode, pose kind and
several prompts (tests/gallery.py), each labelled with its case and identity scores; each
picture also at full size with ``--full DIR``.

    python bench/gallery.py [--full /tmp/gallery]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import ROOT
from PIL import Image, ImageDraw
from tests.gallery import CASES, gallery_engine, gallery_images

from twoshot.engines import Job
from twoshot.vision import IdentityEvaluator

TILE = 384


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", type=Path, help="also write each picture, full size, here")
    args = parser.parse_args()
    if args.full:
        args.full.mkdir(parents=True, exist_ok=True)
    images = gallery_images()
    scenes = tempfile.TemporaryDirectory(prefix="twoshot-scenes-")
    engine, evaluator = gallery_engine(Path(scenes.name)), IdentityEvaluator()
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
        if args.full:
            outcome.image.save(args.full / f"{i + 1}.png")
        sheet.paste(outcome.image.resize((TILE, TILE), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + 6, y + TILE + 3), label, fill=(0, 0, 0))
        draw.text((x + 6, y + TILE + 18), f"distance {scores}  [{flags}]", fill=(90, 90, 90))
    out = Path(ROOT) / "docs" / "gallery" / "contact-sheet.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main()
