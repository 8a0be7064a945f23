"""Vision timings on this CPU, models warm:

- analyse one 1024-px reference: detect + 5-point landmarks + 128-D descriptor;
- evaluate one 1024² couple result (detect faces, describe them, Hungarian match);
- how many analyses a 50-item batch costs when every item uses the same two references;
- the apparent age and gender estimate: per face once its landmarks are known (as after the
  analysis), both faces of a couple in one call, loading the two networks (cold), and the
  estimate of each test photo.

    python bench/vision.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import tempfile
from pathlib import Path

import numpy as np
from common import median_ms, quick
from tests.photos import load, side_by_side

from twoshot.vision import (
    Identity,
    Models,
    add_descriptors,
    add_landmarks,
    detect_faces,
    estimate,
    estimate_faces,
    evaluate,
    reference_descriptor,
)


def figure(times: tuple[float, float]) -> dict[str, float]:
    return {"median": round(times[0], 1), "p90": round(times[1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=quick(30, 2))
    args = parser.parse_args()

    reference = load("obama")
    reference = reference.resize((round(reference.width * 1024 / reference.height), 1024))

    def analyse() -> None:
        faces = detect_faces(reference)
        add_descriptors(reference, faces[:1])

    couple = side_by_side("obama2", "astronaut", height=1024)
    ids = [
        Identity("male", reference_descriptor(load("obama"))),
        Identity("female", reference_descriptor(load("astronaut"))),
    ]  # type: ignore[arg-type]
    analyse_ms = median_ms(analyse, args.runs)
    evaluate_ms = median_ms(lambda: evaluate(couple, ids), args.runs)

    rgb = np.asarray(reference)
    face = detect_faces(rgb)[0]
    add_landmarks(rgb, [face])
    estimate_ms = median_ms(lambda: estimate(rgb, face), args.runs * 3)
    pair_rgb = np.asarray(couple)
    pair = detect_faces(pair_rgb)
    add_landmarks(pair_rgb, pair)
    estimate_pair_ms = median_ms(lambda: estimate_faces(pair_rgb, pair), args.runs * 3)

    def load_networks() -> None:
        fresh = Models()
        fresh.gender(lambda session: session)
        fresh.age(lambda session: session)

    load_ms = median_ms(load_networks, quick(5, 1), warmup=0)
    photos = {}
    for name in ("obama", "obama2", "obama3", "astronaut"):
        photo = np.asarray(load(name))
        seen = estimate(photo, detect_faces(photo)[0])
        photos[name] = {"age": round(seen.age, 1), "p_male": round(seen.p_male, 3)}

    # a batch of 50 items sharing one man and one woman: the references are analysed once each
    from twoshot.config import Settings
    from twoshot.runtime import Runtime
    from twoshot.service import BatchRequest, CoupleItem, Options

    def data_url(name: str) -> str:
        buf = io.BytesIO()
        load(name).save(buf, "JPEG", quality=90)
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()

    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime.build(Settings(data_dir=Path(tmp), engine="studio"))
        key = rt.store.create_key("bench")[0]
        req = BatchRequest(
            kind="couple",
            males=[data_url("obama")],
            females=[data_url("astronaut")],
            couple_items=[CoupleItem(0, 0, None, Options(prompt=f"item {i}")) for i in range(50)],
        )
        answer = asyncio.run(rt.service.submit_batch(key, req))
        analysed = rt.service.intake.analysed
        rt.close()

    print(
        json.dumps(
            {
                "analyse_reference_1024px_ms": figure(analyse_ms),
                "evaluate_couple_1024_ms": figure(evaluate_ms),
                "estimate_age_gender_per_face_ms": figure(estimate_ms),
                "estimate_age_gender_couple_2_faces_ms": figure(estimate_pair_ms),
                "load_age_gender_networks_ms": {"median": round(load_ms[0], 1)},
                "age_gender_test_photos": photos,
                "batch_items": len(answer["task_ids"]),
                "batch_reference_analyses": analysed,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
