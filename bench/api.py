"""API throughput: GET /api/task-status/{id} against a bare Starlette JSON route served by the
same process and hit by the same load tool (wrk), then submissions per second of
/api/couple_image with two ~200 KB JPEGs (face checks on, as by default).

    python bench/api.py [--seconds 10] [--connections 32]

Needs wrk (Debian: apt-get install wrk). The server is one uvicorn process (uvloop, httptools),
with no in-process worker, so only the API is measured.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def jpeg_about(name: str, target: int = 200_000) -> bytes:
    im = Image.open(DATA / name).convert("RGB")
    im = im.resize((im.width * 2, im.height * 2), Image.Resampling.LANCZOS)
    for q in range(95, 40, -5):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=q)
        if buf.tell() <= target:
            return buf.getvalue()
    return buf.getvalue()


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": p50.group(1) if p50 else "?",
        "p99": p99.group(1) if p99 else "?",
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="twoshot-bench-"))
    env = {
        **os.environ,
        "TWOSHOT_DATA_DIR": str(tmp),
        "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
        "TWOSHOT_WORKERS": "0",
    }
    key = subprocess.run(
        [sys.executable, "-m", "twoshot", "keys", "create", "--name", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = 8765
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api_app:app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        env=env,
        cwd=ROOT / "bench",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        male, female = jpeg_about("obama.jpg"), jpeg_about("astronaut.jpg")
        files = {
            "maleImage": ("m.jpg", male, "image/jpeg"),
            "femaleImage": ("f.jpg", female, "image/jpeg"),
        }
        task_id = httpx.post(
            f"{base}/api/couple_image", headers={"X-Api-Key": key}, files=files, timeout=60
        ).json()["task_id"]

        status_script = tmp / "status.lua"
        status_script.write_text(f'wrk.headers["X-Api-Key"] = "{key}"\n')
        wrk(f"{base}/bare", 2, args.connections)  # warm up
        bare = wrk(f"{base}/bare", args.seconds, args.connections)
        status = wrk(
            f"{base}/api/task-status/{task_id}", args.seconds, args.connections, status_script
        )

        boundary = "benchboundary"
        body = b""
        for field, data in (("maleImage", male), ("femaleImage", female)):
            body += (
                (
                    f"--{boundary}\r\n"
                    f'Content-Disposition: form-data; name="{field}"; filename="{field}.jpg"\r\n'
                    "Content-Type: image/jpeg\r\n\r\n"
                ).encode()
                + data
                + b"\r\n"
            )
        body += f"--{boundary}--\r\n".encode()
        (tmp / "body.bin").write_bytes(body)
        submit_script = tmp / "submit.lua"
        submit_script.write_text(
            'wrk.method = "POST"\n'
            f'wrk.headers["X-Api-Key"] = "{key}"\n'
            f'wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"\n'
            f'local f = io.open("{tmp / "body.bin"}", "rb")\nwrk.body = f:read("*all")\nf:close()\n'
        )
        submit = wrk(f"{base}/api/couple_image", args.seconds, 4, submit_script)
    finally:
        server.terminate()
        server.wait(30)
    result = {
        "bare_starlette_rps": bare["rps"],
        "task_status_rps": status["rps"],
        "ratio": round(status["rps"] / bare["rps"], 3),
        "task_status_p50": status["p50"],
        "task_status_p99": status["p99"],
        "task_status_errors": status["errors"],
        "submissions_per_s": submit["rps"],
        "submission_p50": submit["p50"],
        "submission_errors": submit["errors"],
        "upload_bytes": [len(male), len(female)],
    }
    print(json.dumps(result, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
