"""API throughput: GET /api/task-status/{id} against a bare Starlette JSON route served by the
same process and hit by the same load tool (wrk), then submissions per second of
/api/couple_image with two ~200 KB JPEGs (face checks on, as by default). Then results
without polling: task-status latency while 200 clients wait (``Prefer: wait``) against idle,
and, on a second server with one studio worker, a couple's end-to-end latency in wait mode
against submit-then-poll every 0.5 s, with the polls it saves.

    python bench/api.py [--seconds 10] [--connections 32] [--waiters 200] [--tasks 8]
    python bench/api.py --wakeup-only [--rounds 40]   # Prefer: wait's wake-up (wakeup.py)

Needs wrk (Debian: apt-get install wrk). The server is one uvicorn process (uvloop, httptools),
with no in-process worker, so only the API is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import create_key, quick
from PIL import Image
from wakeup import wakeup

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


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
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
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server


def waiting_clients(base: str) -> float:
    try:  # slow while hundreds of submissions run their face checks
        text = httpx.get(f"{base}/metrics", timeout=30).text
    except httpx.TimeoutException:
        return 0.0
    match = re.search(r"^twoshot_waiting_clients ([\d.]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def hold_waiters(base: str, key: str, files: dict, n: int) -> threading.Thread:
    """``n`` clients that each submit with ``Prefer: wait=60`` and wait (no worker runs)."""
    import asyncio

    async def one(client: httpx.AsyncClient) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server stops under them at the end
            await client.post(
                f"{base}/api/couple_image",
                headers={"X-Api-Key": key, "Prefer": "wait=60"},
                files=files,
            )

    async def all_of_them() -> None:
        limits = httpx.Limits(max_connections=n + 10)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            await asyncio.gather(*(one(client) for _ in range(n)))

    thread = threading.Thread(target=lambda: asyncio.run(all_of_them()), daemon=True)
    thread.start()
    return thread


def wait_mode_latency(base: str, key: str, files: dict, tasks: int) -> dict:
    """A studio couple end to end: Prefer: wait against submit-then-poll every 0.5 s."""
    waits, polled, polls = [], [], []
    with httpx.Client(timeout=120, headers={"X-Api-Key": key}) as client:
        client.post(f"{base}/api/couple_image", headers={"Prefer": "wait=60"}, files=files)  # warm
        for _ in range(tasks):
            start = time.perf_counter()
            r = client.post(f"{base}/api/couple_image", headers={"Prefer": "wait=60"}, files=files)
            assert r.json()["status"] == "completed", r.text
            waits.append(time.perf_counter() - start)
        for _ in range(tasks):
            start = time.perf_counter()
            task_id = client.post(f"{base}/api/couple_image", files=files).json()["task_id"]
            n = 0
            while True:
                time.sleep(0.5)
                n += 1
                if client.get(f"{base}/api/task-status/{task_id}").json()["status"] == "completed":
                    break
            polled.append(time.perf_counter() - start)
            polls.append(n)
    return {
        "wait_mode_s_median": round(statistics.median(waits), 3),
        "poll_every_0_5_s_median": round(statistics.median(polled), 3),
        "polls_saved_per_task": round(statistics.mean(polls), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=quick(10, 1))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--waiters", type=int, default=quick(200, 10))
    parser.add_argument("--tasks", type=int, default=quick(8, 1))
    parser.add_argument("--rounds", type=int, default=quick(40, 3))
    parser.add_argument("--wakeup-only", action="store_true")
    args = parser.parse_args()
    male, female = jpeg_about("obama.jpg"), jpeg_about("astronaut.jpg")
    files = {
        "maleImage": ("m.jpg", male, "image/jpeg"),
        "femaleImage": ("f.jpg", female, "image/jpeg"),
    }
    if args.wakeup_only:
        print(json.dumps({"prefer_wait_wakeup": wakeup(args.rounds, files)}, indent=2))
        return
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="twoshot-bench-"))
    env = {
        **os.environ,
        "TWOSHOT_DATA_DIR": str(tmp),
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}:{ROOT / 'bench'}",
        "TWOSHOT_WORKERS": "0",
    }
    key = create_key(env)
    port = 8765
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
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

        # task-status while clients wait on tasks that no worker runs
        hold_waiters(base, key, files, args.waiters)
        deadline = time.time() + 300
        while waiting_clients(base) < args.waiters and time.time() < deadline:
            time.sleep(0.2)
        held = waiting_clients(base)
        loaded = wrk(
            f"{base}/api/task-status/{task_id}", args.seconds, args.connections, status_script
        )
    finally:
        server.kill()  # plain uvicorn would wait out the waiters (twoshot serve answers them)
        server.wait(30)
    worker_env = {**env, "TWOSHOT_WORKERS": "1", "TWOSHOT_DATA_DIR": str(tmp / "w")}
    worker_key = create_key(worker_env)
    server = start_server(worker_env, port + 1)
    try:
        latency = wait_mode_latency(f"http://127.0.0.1:{port + 1}", worker_key, files, args.tasks)
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
        "waiting_clients": held,
        "task_status_rps_with_waiters": loaded["rps"],
        "task_status_p50_with_waiters": loaded["p50"],
        "task_status_p99_with_waiters": loaded["p99"],
        "studio_couple_end_to_end": latency,
        "prefer_wait_wakeup": wakeup(args.rounds, files),
    }
    print(json.dumps(result, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
