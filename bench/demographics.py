"""How far the apparent age and gender estimate moves on the adult test photos.

Each photo is read as is and in variants a service meets (faces of 40 – 200 px, JPEG at
quality 30 and 60, turned ±10°, mirrored, greyscale, and beside another person); printed:
every reading, then per photo the lowest, median and highest age and the least sure gender
reading. The [safety] issue picks ``TWOSHOT_MIN_APPARENT_AGE`` from the lowest ages.

    python bench/demographics.py
"""

from __future__ import annotations

import io
import json
import statistics
from collections.abc import Iterator

import numpy as np
from common import QUICK
from PIL import Image, ImageOps
from tests.photos import load, side_by_side

from twoshot.vision import detect_faces, estimate_faces

KNOWN = {"obama": "male", "obama2": "male", "obama3": "male", "astronaut": "female"}


def variants(name: str) -> Iterator[tuple[str, Image.Image]]:
    photo = load(name)
    yield "as is", photo
    if QUICK:
        return
    width = detect_faces(np.asarray(photo))[0].width
    for face_px in (40, 60, 90, 140, 200):
        scale = face_px / width
        small = photo.resize((round(photo.width * scale), round(photo.height * scale)))
        canvas = Image.new("RGB", (max(small.width, 300), max(small.height, 300)), (128,) * 3)
        canvas.paste(small)
        yield f"face {face_px} px", canvas
    for quality in (30, 60):
        buf = io.BytesIO()
        photo.save(buf, "JPEG", quality=quality)
        yield f"jpeg q{quality}", Image.open(buf).convert("RGB")
    for angle in (-10, 10):
        yield f"turned {angle}°", photo.rotate(angle, Image.BICUBIC, fillcolor=(128,) * 3)
    yield "mirrored", ImageOps.mirror(photo)
    yield "greyscale", ImageOps.grayscale(photo).convert("RGB")


def main() -> None:
    readings: dict[str, list[tuple[str, float, float]]] = {name: [] for name in KNOWN}
    for name in KNOWN:
        for label, image in variants(name):
            rgb = np.asarray(image)
            faces = detect_faces(rgb)[:1]
            for seen in estimate_faces(rgb, faces):
                readings[name].append((label, seen.age, seen.p_male))
    for left, right in (("obama3", "astronaut"), ("astronaut", "obama"), ("obama2", "astronaut")):
        rgb = np.asarray(side_by_side(left, right))
        faces = sorted(detect_faces(rgb), key=lambda f: f.center[0])
        for name, other, seen in zip(
            (left, right), (right, left), estimate_faces(rgb, faces), strict=True
        ):
            readings[name].append((f"beside {other}", seen.age, seen.p_male))
    summary = {}
    for name, rows in readings.items():
        ages = [age for _, age, _ in rows]
        sure = [p if KNOWN[name] == "male" else 1 - p for _, _, p in rows]
        summary[name] = {
            "readings": len(rows),
            "age_min": round(min(ages), 1),
            "age_median": round(statistics.median(ages), 1),
            "age_max": round(max(ages), 1),
            "right_gender_min_p": round(min(sure), 3),
        }
        for label, age, p_male in rows:
            print(f"{name:10s} {label:16s} age {age:5.1f}  p_male {p_male:.3f}")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
