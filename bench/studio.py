"""Studio engine: median seconds per image on this CPU, models warm and the references and
pose images read (as in a batch that shares them), for each mode at 1024², scene-pack
photos included; then what analysing one reference costs the first time (face, landmarks,
mesh, segmentation, matte), what reading one pose image costs the first time (people, faces,
descriptors, age and gender), and the age/gender estimate per face.

python bench/studio.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
from common import median_ms, quick
from tests.photos import back_view, load, portraits, side_by_side, skeleton_pose

from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.engines.studio import StudioEngine
from twoshot.engines.studio.subjects import Subjects
from twoshot.vision import Models, add_landmarks, detect_faces
from twoshot.vision.demographics import estimate
from twoshot.vision.poses import read_pose

CASES = {
    "couple_composite_1024": JobSpec(
        kind="couple", male="obama", female="astronaut", prompt="happy couple at the beach", seed=1
    ),
    "couple_composite_beach_at_sunset_1024": JobSpec(
        kind="couple", male="obama2", female="astronaut", prompt="beach at sunset", seed=1
    ),
    "couple_skeleton_pose_1024": JobSpec(
        kind="couple", male="obama", female="astronaut", pose="skeleton", prompt="park", seed=1
    ),
    "couple_back_view_pose_1024": JobSpec(
        kind="couple", male="obama", female="astronaut", pose="back", prompt="fog", seed=1
    ),
    "couple_swap_1024": JobSpec(
        kind="couple", male="obama2", female="astronaut", pose="pose", seed=1
    ),
    "person_portrait_1024": JobSpec(
        kind="person", references=["obama", "obama2"], prompt="park", seed=1
    ),
    "person_swap_1024": JobSpec(kind="person", references=["obama"], control="astronaut", seed=1),
    "couple_close_up_portraits_pose_1024": JobSpec(
        kind="couple", male="obama", female="astronaut", pose="portraits", seed=1
    ),
    "couple_scene_pack_meadow_at_sunset_1024": JobSpec(
        kind="couple", male="obama", female="astronaut", prompt="meadow at sunset", seed=1
    ),
}


def cpu_seconds(fn: Callable[[], object], runs: int) -> float:
    """The median CPU time of this process per call (all its threads): on a machine shared
    with other work it moves far less than the wall-clock time does."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=quick(15, 2))
    args = parser.parse_args()
    images = {n: load(n) for n in ("obama", "obama2", "obama3", "astronaut")}
    images["pose"] = side_by_side("astronaut", "obama3")
    images["skeleton"], images["back"] = skeleton_pose(), back_view()
    images["portraits"] = portraits("astronaut", "obama3")
    engine = StudioEngine()
    report = {}
    for name, spec in CASES.items():
        job = Job("bench", spec, images)
        med, p90 = median_ms(lambda job=job: engine.generate([job], lambda _f: None), args.runs)
        cpu = cpu_seconds(lambda job=job: engine.generate([job], lambda _f: None), args.runs)
        report[name] = {
            "median_s": round(med / 1000, 3),
            "p90_s": round(p90 / 1000, 3),
            "cpu_median_s": round(cpu, 3),
        }
    analyse = Subjects(Models.shared()).analyse  # a reference's cost the first time it is seen
    for name in ("obama", "astronaut"):
        med, p90 = median_ms(lambda name=name: analyse(images[name], name), args.runs)
        report[f"analyse_reference_{name}"] = {"median_s": round(med / 1000, 3)}
    models = Models.shared()  # a pose image's cost the first time it is seen (then cached)
    for name in ("skeleton", "back", "pose", "portraits"):
        med, _ = median_ms(
            lambda name=name: read_pose(images[name], (1024, 1024), 2, models), quick(5, 1)
        )
        report[f"read_pose_first_time_{name}"] = {"median_s": round(med / 1000, 3)}
    pixels = np.asarray(load("obama").convert("RGB"))
    face = detect_faces(pixels, models)[0]
    add_landmarks(pixels, [face], models)
    med, _ = median_ms(lambda: estimate(pixels, face, models), args.runs * 3)
    report["estimate_age_gender_per_face"] = {"median_ms": round(med, 2)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
