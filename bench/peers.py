"""twoshot next to a bare app: task-status (a completed task), a batch's task-status, the
event stream of a completed task (its first event is the final one), and the first event of a
queued task's stream, against a standalone Starlette app (``bench/peers_bare.py``, outside
the project) answering the same bytes.

Both servers run at once, one uvicorn process each (uvloop, httptools, no access log);
twoshot is ``twoshot serve --workers 0`` (its sweeper and webhook sender idle, as deployed).
``wrk -t1 -c32`` loads one server at a time, in interleaved rounds (the order alternates
each round), so a noisy machine slows both alike. CPU per request is the server processes'
user+system time over the run (psutil) divided by the requests wrk completed. A queued
task's stream never ends, so its first event is measured by this script's own client (32
connections, each opening a connection, reading up to the first event and closing it): a
Python client, which may limit the bare app's rate; its CPU per request is the firmer figure.

task-status has a third row, not a baseline: the bare app served as ``twoshot serve`` serves
(``bench/peers_bare_ours.py``: twoshot's connection protocol), which splits twoshot's figure
into what its server layer gives and what its app costs.

    python bench/peers.py [--rounds 6] [--seconds 5] [--connections 32] [--processes 2]
                          [--only status,batch,events,live]
                          [--comfyui http://127.0.0.1:8188/history/ID --comfyui-pid PID]
                          [--src OLDER_CHECKOUT/src --processes 1]

``--processes 2`` also measures task-status on ``twoshot serve --processes 1`` and ``2``
(interleaved). ComfyUI is never installed by this script: give the URL of a running one's
``/history/{prompt_id}`` (and its PID for the CPU column) to add it as a row.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from common import QUICK, create_key, quick

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
PORT = 18300  # the speed helper's range on the shared machine


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes] | None
    pid: int

    def cpu(self) -> float:
        """User+system seconds of the server and its children so far."""
        total = 0.0
        try:
            root = psutil.Process(self.pid)
            for p in [root, *root.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
        return total

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Target:
    server: Server
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    first_event: bool = False  # load with first_events, not wrk
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    errors: int = 0


def wait_up(url: str, proc: subprocess.Popen[bytes] | None) -> None:
    for _ in range(600):
        if proc is not None and proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer")


def uvicorn_flags(port: int) -> list[str]:
    return ["--port", str(port), "--log-level", "warning", "--no-access-log"]


def twoshot(env: dict[str, str], port: int, workers: int = 0, processes: int = 1) -> Server:
    cmd = [sys.executable, "-m", "twoshot", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning"]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    proc = subprocess.Popen(cmd, env=env)
    wait_up(f"http://127.0.0.1:{port}/healthz", proc)
    return Server(f"twoshot x{processes}" if processes > 1 else "twoshot", proc, proc.pid)


def bare(env: dict[str, str], port: int) -> Server:
    cmd = [sys.executable, "-m", "uvicorn", "peers_bare:app", *uvicorn_flags(port)]
    cmd += ["--loop", "uvloop", "--http", "httptools"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT / "bench")
    wait_up(f"http://127.0.0.1:{port}/status/x", proc)
    return Server("bare Starlette", proc, proc.pid)


def ours(env: dict[str, str], port: int) -> Server:
    cmd = [sys.executable, "peers_bare_ours.py", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT / "bench")
    wait_up(f"http://127.0.0.1:{port}/status/x", proc)
    return Server("bare Starlette, twoshot's protocol", proc, proc.pid)


def first_events(target: Target, seconds: int, connections: int) -> None:
    """``connections`` clients, each opening a connection, reading the response up to the end
    of its first ``event:`` and closing it, again and again for ``seconds``."""
    url = httpx.URL(target.url)
    head = f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in target.headers.items()) + "\r\n"

    async def client(deadline: float, counts: list[int]) -> None:
        while time.monotonic() < deadline:
            seen, at = b"", -1
            try:
                reader, writer = await asyncio.open_connection(url.host, url.port)
                writer.write(head.encode())
                while (at := seen.find(b"event:")) < 0 or seen.find(b"\n\n", at) < 0:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    seen += chunk
                writer.close()
            except OSError:
                pass  # counted as an error below
            counts[0 if seen.startswith(b"HTTP/1.1 200") and at >= 0 else 1] += 1

    async def run() -> list[int]:
        counts = [0, 0]
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(client(deadline, counts) for _ in range(connections)))
        return counts

    before, start = target.server.cpu(), time.monotonic()
    done, failed = asyncio.run(run())
    elapsed, used = time.monotonic() - start, target.server.cpu() - before
    target.rps.append(done / elapsed)
    target.cpu_us.append(used / max(1, done) * 1e6)
    target.errors += failed


def load(target: Target, seconds: int, connections: int) -> None:
    """One round against ``target``: wrk, or for a stream that never ends, first_events."""
    (first_events if target.first_event else wrk)(target, seconds, connections)


def wrk(target: Target, seconds: int, connections: int) -> None:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    for name, value in target.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    before = target.server.cpu()
    out = subprocess.run([*cmd, target.url], capture_output=True, text=True, check=True).stdout
    used = target.server.cpu() - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    target.rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))  # type: ignore[union-attr]
    target.cpu_us.append(used / max(1, requests) * 1e6)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    target.errors += int(non2xx.group(1)) if non2xx else 0


def rounds(targets: list[Target], n: int, seconds: int, connections: int) -> None:
    for t in targets:  # warm up: first requests compile statements, fill caches
        load(t, 1, connections)
        t.rps.clear()
        t.cpu_us.clear()
    for r in range(n):
        for t in targets if r % 2 == 0 else targets[::-1]:
            load(t, seconds, connections)


def table(title: str, targets: list[Target]) -> dict:
    base = targets[0]
    print(f"\n### {title}\n")
    print(f"| server | req/s (median of {len(base.rps)}) | CPU per request | ratio to bare |")
    print("|---|---|---|---|")
    result = {}
    for t in targets:
        ratios = [a / b for a, b in zip(t.rps, base.rps, strict=True)]
        row = {
            "rps": round(statistics.median(t.rps)),
            "cpu_us": round(statistics.median(t.cpu_us)),
            "ratio": round(statistics.median(ratios), 3),
            "errors": t.errors,
        }
        result[t.server.name] = row
        print(
            f"| {t.server.name} | {row['rps']:,} | {row['cpu_us']} µs | {row['ratio']:.2f} |"
            + (f" ({t.errors} non-2xx)" if t.errors else "")
        )
    return result


def data_url(name: str) -> str:
    return "data:image/jpeg;base64," + base64.b64encode((DATA / name).read_bytes()).decode()


def prepare(env: dict[str, str], tmp: Path) -> tuple[str, str, str]:
    """A key, a completed couple and a completed batch of two, made by a real studio worker
    on a server that is then stopped."""
    key = create_key(env)
    server = twoshot(env, PORT + 9, workers=1)
    base = f"http://127.0.0.1:{PORT + 9}"
    headers = {"X-Api-Key": key, "Prefer": "wait=60"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            files = {
                "maleImage": ("m.jpg", (DATA / "obama.jpg").read_bytes(), "image/jpeg"),
                "femaleImage": ("f.jpg", (DATA / "astronaut.jpg").read_bytes(), "image/jpeg"),
            }
            task = c.post("/api/couple_image", files=files).json()
            body = {
                "maleImages": [data_url("obama.jpg")],
                "femaleImages": [data_url("astronaut.jpg")],
                "items": [{"maleIndex": 0, "femaleIndex": 0, "prompt": p} for p in "ab"],
            }
            batch = c.post("/api/couple_image/batch", json=body).json()
    finally:
        server.stop()
    for answer in (task, batch):
        if answer.get("status") != "completed":
            sys.exit(f"setup: the task did not complete: {answer}")
    return key, task["task_id"], batch["task_id"]


def queued_task(url: str, key: str) -> str:
    """A couple submitted to the server under test, which runs no worker: it stays queued."""
    files = {
        "maleImage": ("m.jpg", (DATA / "obama.jpg").read_bytes(), "image/jpeg"),
        "femaleImage": ("f.jpg", (DATA / "astronaut.jpg").read_bytes(), "image/jpeg"),
    }
    r = httpx.post(f"{url}/api/couple_image", files=files, headers={"X-Api-Key": key}, timeout=60)
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    return str(r.json()["task_id"])


def first_event_bytes(url: str, headers: dict[str, str]) -> bytes:
    """A stream's body up to the end of its first event (``retry`` comes before it)."""
    seen = b""
    with httpx.stream("GET", url, headers=headers, timeout=30) as r:
        assert r.status_code == 200, r.read()
        for chunk in r.iter_raw():
            seen += chunk
            at = seen.find(b"event:")
            if at >= 0 and (end := seen.find(b"\n\n", at)) >= 0:
                return seen[: end + 2]
    raise AssertionError(f"no event in {seen!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=quick(6, 1))
    parser.add_argument("--seconds", type=int, default=quick(5, 1))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", type=int, default=quick(2, 2))
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default={"status", "batch", "events", "live"},
        help="which tables (status,batch,events,live; --processes adds its own)",
    )
    parser.add_argument("--comfyui", help="a running ComfyUI's /history/{prompt_id} URL")
    parser.add_argument("--comfyui-pid", type=int, default=0)
    parser.add_argument(
        "--src", type=Path, default=ROOT / "src", help="twoshot sources to run (an older one)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="twoshot-peers-"))
    pythonpath = os.pathsep.join(filter(None, [str(args.src), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "TWOSHOT_DATA_DIR": str(tmp / "data"), "PYTHONPATH": pythonpath}
    key, task_id, batch_id = prepare(env, tmp)

    servers: list[Server] = []
    try:
        ts = twoshot(env, PORT)
        servers.append(ts)
        url = f"http://127.0.0.1:{PORT}"
        h = {"X-Api-Key": key}
        answers = {}
        for name, path in (
            ("status", f"/api/task-status/{task_id}"),
            ("batch", f"/api/task-status/{batch_id}"),
            ("events", f"/api/task-status/{task_id}/events"),
        ):
            r = httpx.get(url + path, headers=h)
            assert r.status_code == 200, r.text
            assert "content-length" in r.headers, f"{name}: not answered whole (a fast path)"
            answers[name] = r.content
            (tmp / name).write_bytes(r.content)
        queued = queued_task(url, key)
        answers["live"] = first_event_bytes(url + f"/api/task-status/{queued}/events", h)
        (tmp / "live").write_bytes(answers["live"])
        peer_env = {**env, **{f"PEER_{n.upper()}": str(tmp / n) for n in answers}}
        peer = bare(peer_env, PORT + 1)
        servers.append(peer)
        purl = f"http://127.0.0.1:{PORT + 1}"
        for name, path in (("status", "/status/x"), ("batch", "/batch/x"), ("events", "/events/x")):
            r = httpx.get(purl + path)
            assert r.content == answers[name] and "content-length" in r.headers, name
        assert first_event_bytes(purl + "/live/x", {}) == answers["live"]
        mine = ours(peer_env, PORT + 3)
        servers.append(mine)
        ourl = f"http://127.0.0.1:{PORT + 3}"
        assert httpx.get(ourl + "/status/x").content == answers["status"]

        results: dict = {"bytes": {n: len(b) for n, b in answers.items()}}
        print(f"bodies: {results['bytes']} bytes; wrk -t1 -c{args.connections} -d{args.seconds}s")
        for name, title, bare_path, path in (
            ("status", "task-status, a completed task", "/status/x", f"/api/task-status/{task_id}"),
            ("batch", "task-status, a batch of two", "/batch/x", f"/api/task-status/{batch_id}"),
            (
                "events",
                "event stream of a completed task (its first event is `done`)",
                "/events/x",
                f"/api/task-status/{task_id}/events",
            ),
        ):
            if name not in args.only:
                continue
            targets = [Target(peer, purl + bare_path), Target(ts, url + path, h)]
            if name == "status":
                targets.append(Target(mine, ourl + bare_path))
            if name == "status" and args.comfyui:
                comfy = Server("ComfyUI", None, args.comfyui_pid or os.getpid())
                targets.append(Target(comfy, args.comfyui))
            rounds(targets, args.rounds, args.seconds, args.connections)
            results[name] = table(title, targets)
        if "live" in args.only:
            targets = [
                Target(peer, purl + "/live/x", first_event=True),
                Target(ts, url + f"/api/task-status/{queued}/events", h, first_event=True),
            ]
            rounds(targets, args.rounds, args.seconds, args.connections)
            results["live"] = table(
                "first event of a queued task's stream (a new connection each)", targets
            )
        ts.stop()
        servers.remove(ts)

        if args.processes > 1:
            many = twoshot(env, PORT + 2, processes=args.processes)
            servers.append(many)
            one = twoshot(env, PORT)
            servers.append(one)
            path = f"/api/task-status/{task_id}"
            targets = [
                Target(peer, purl + "/status/x"),
                Target(one, url + path, h),
                Target(many, f"http://127.0.0.1:{PORT + 2}{path}", h),
            ]
            # more connections, so that two processes have work to share
            rounds(targets, args.rounds, args.seconds, max(64, args.connections))
            results["processes"] = table(
                f"task-status, twoshot serve --processes 1 and {args.processes}", targets
            )
    finally:
        for s in servers:
            s.stop()
        if not QUICK:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
