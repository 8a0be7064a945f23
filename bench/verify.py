"""What one ``verify`` costs: peak memory and CPU time for a 1024² marked result and for a
flat picture just under the 40 MP upload limit (the cheapest picture on the wire to send,
the dearest to read: about 100 KB as a PNG).

Each case runs in a fresh child process; the peak is the growth of its resident memory
(VmHWM, reset just before the call) over what it held before.

python bench/verify.py [--runs 3] [--server]
(VERIFY_SRC=/path/to/other/src measures another checkout's code, e.g. the code before)
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
    flat_jpeg = directory / f"flat-{side}.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buf, "JPEG", quality=90)
    flat_jpeg.write_bytes(buf.getvalue())
    return {
        "1024² marked result (JPEG)": result,
        f"{side}² flat PNG": flat,
        f"{side}² flat JPEG": flat_jpeg,
    }


def measure(path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": os.environ.get("VERIFY_SRC", str(ROOT / "src")), "HF_HUB_OFFLINE": "1"},
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def server_four_at_once(path: Path, src: str) -> dict:
    """Four verifies of ``path`` at once against a real ``twoshot serve`` (no workers): each
    answer's time and the server's peak memory growth over its state after a first call."""
    import socket
    import threading

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        env = {
            "PYTHONPATH": src,
            "HF_HUB_OFFLINE": "1",
            "TWOSHOT_DATA_DIR": data,
            "TWOSHOT_PROVENANCE": "watermark",
            "TWOSHOT_VERIFY_WAIT": "60",
            "PATH": os.environ.get("PATH", ""),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "twoshot", "serve", "--port", str(port), "--workers", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 120
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("serve did not start")
                time.sleep(0.2)
            httpx.post(f"{url}/api/verify", files={"image": ("x", b"warm-up")}, timeout=60)
            status = Path(f"/proc/{proc.pid}/status")
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
            base = _field(status, "VmRSS:")
            data_bytes = path.read_bytes()
            answers: list[tuple[int, float]] = []

            def one() -> None:
                start = time.perf_counter()
                r = httpx.post(f"{url}/api/verify", files={"image": ("x", data_bytes)}, timeout=300)
                answers.append((r.status_code, round(time.perf_counter() - start, 1)))

            threads = [threading.Thread(target=one) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            growth = _field(status, "VmHWM:") - base
        finally:
            proc.terminate()
            proc.wait(60)
    return {"answers": sorted(answers), "server_growth_mb": round(growth)}


def _field(status: Path, name: str) -> float:
    for line in status.read_text().splitlines():
        if line.startswith(name):
            return int(line.split()[1]) / 1024
    raise KeyError(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=quick(3, 1))
    parser.add_argument(
        "--server", action="store_true", help="also four at once against a real twoshot serve"
    )
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
        if args.server:
            flat = next(p for name, p in pictures(Path(tmp), side).items() if "PNG" in name)
            src = os.environ.get("VERIFY_SRC", str(ROOT / "src"))
            report["four at once, flat PNG, twoshot serve"] = server_four_at_once(flat, src)
    report["bench_seconds"] = round(time.perf_counter() - start, 1)
    report["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
