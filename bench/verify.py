"""What one ``verify`` costs: peak memory and CPU time for a 1024² marked result and for a
flat picture just under the 40 MP upload limit (the cheapest picture on the wire to send,
the dearest to read: about 100 KB as a PNG).

Each case runs in a fresh child process; the peak is the growth of its resident memory
(VmHWM, reset just before the call) over what it held before.

python bench/verify.py [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, quick

CHILD = r"""
import json, sys, time
from twoshot.images import Limits
from twoshot.provenance import verify

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

data = open(sys.argv[1], "rb").read()
limits = Limits(max_bytes=15 * 1024 * 1024, max_pixels=40_000_000)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak RSS (VmHWM) to the current RSS
base = status("VmRSS:")
cpu0, t0 = time.process_time(), time.perf_counter()
verdict = verify(data, limits=limits)
cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
print(json.dumps({"peak_mb": status("VmHWM:") - base, "cpu_s": cpu, "wall_s": wall,
                  "marked": verdict.marked}))
"""


def pictures(directory: Path, side: int) -> dict[str, Path]:
    from PIL import Image

    from twoshot.provenance import Provenance

    marked = Provenance({"watermark"}, server_id=7).encode(
        Image.open(ROOT / "tests" / "data" / "obama.jpg").convert("RGB").resize((1024, 1024)),
        engine="studio",
        source_type="compositeSynthetic",
    )
    result = directory / "result-1024.jpg"
    result.write_bytes(marked.jpeg)
    flat = directory / f"flat-{side}.png"
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buf, "PNG", optimize=True)
    flat.write_bytes(buf.getvalue())
    return {"1024² marked result (JPEG)": result, f"{side}² flat PNG": flat}


def measure(path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": os.environ.get("VERIFY_SRC", str(ROOT / "src")), "HF_HUB_OFFLINE": "1"},
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=quick(3, 1))
    args = parser.parse_args()
    side = quick(6300, 1500)  # 6300² = 39.7 MP, under the 40 MP limit
    report = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in pictures(Path(tmp), side).items():
            runs = [measure(path) for _ in range(args.runs)]
            runs.sort(key=lambda r: r["cpu_s"])
            mid = runs[len(runs) // 2]
            report[name] = {
                "bytes": path.stat().st_size,
                "peak_mb": round(max(r["peak_mb"] for r in runs), 1),
                "cpu_s": round(mid["cpu_s"], 2),
                "wall_s": round(mid["wall_s"], 2),
                "marked": mid["marked"],
            }
    report["bench_seconds"] = round(time.perf_counter() - start, 1)
    report["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
