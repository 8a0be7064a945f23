"""Beyond one machine: 2 API processes, 3 workers (one remote over HTTP), PostgreSQL and an
S3 API server. 200 tasks through both APIs; a worker SIGKILLed mid-task; PostgreSQL
restarted once. Every accepted task completes, exactly once."""

from __future__ import annotations

import itertools
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import photo
from tests.process import Server, cli, env_for

pytestmark = pytest.mark.slow

TASKS = 200
POSTGRES_RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect"]


def restart_postgres() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    subprocess.run([*POSTGRES_RESTART, versions[-1], "main", "restart"], check=True, timeout=120)


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "twoshot", "worker", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_two_apis_three_workers_a_kill_and_a_database_restart(tmp_path: Path) -> None:
    if not Path("/etc/postgresql").is_dir() or shutil.which("pg_ctlcluster") is None:
        pytest.skip("needs the local PostgreSQL cluster (pg_ctlcluster)")
    pytest.importorskip("boto3")
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.conftest import free_port
    from tests.store.test_contract import postgres_schema

    s3_port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3.start()
    endpoint = f"http://127.0.0.1:{s3_port}"
    aws = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    bucket = f"twoshot-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        **{k.lower(): v for k, v in aws.items() if k != "AWS_DEFAULT_REGION"},
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    engine_log = tmp_path / "engine.log"
    procs: list[subprocess.Popen[bytes]] = []
    servers: list[Server] = []
    with postgres_schema() as database:
        env = env_for(
            tmp_path / "data",
            TWOSHOT_DATABASE_URL=database,
            TWOSHOT_BLOB_URL=f"s3://{bucket}/scale",
            TWOSHOT_S3_ENDPOINT_URL=endpoint,
            TWOSHOT_ENGINE="tests.engines:slow",
            TWOSHOT_TEST_STEPS="4",
            TWOSHOT_TEST_STEP_SECONDS="0.05",
            TWOSHOT_TEST_LOG=str(engine_log),
            TWOSHOT_LEASE_SECONDS="3",
            TWOSHOT_POLL_INTERVAL="0.1",
            TWOSHOT_FACE_CHECKS="false",
            **aws,
        )
        try:
            key = cli(env, "keys", "create", "--name", "scale").stdout.strip()
            token = cli(env, "workers", "create-token", "--name", "remote").stdout.strip()
            servers = [Server(env, tmp_path / f"api{i}.log", "--workers", "0") for i in range(2)]
            worker_logs = [tmp_path / f"worker{i}.log" for i in range(3)]
            procs.append(start_worker(env, worker_logs[0]))
            procs.append(start_worker(env, worker_logs[1]))
            procs.append(
                start_worker(env, worker_logs[2], "--server", servers[1].url, "--token", token)
            )

            accepted: list[str] = []
            files = {
                "maleImage": ("m.jpg", photo("obama.jpg")),
                "femaleImage": ("f.jpg", photo("astronaut.jpg")),
            }

            def submit_all() -> None:
                apis = itertools.cycle(servers)
                for n in range(TASKS):
                    headers = {"X-Api-Key": key, "Idempotency-Key": f"scale-{n}"}
                    for _try in range(60):  # retried with the same key: never accepted twice
                        api = next(apis)
                        try:
                            r = httpx.post(
                                f"{api.url}/api/couple_image",
                                headers=headers,
                                files=files,
                                timeout=30,
                            )
                        except httpx.HTTPError:
                            time.sleep(0.5)
                            continue
                        if r.status_code == 200:
                            accepted.append(r.json()["task_id"])
                            break
                        time.sleep(0.5)

            submitter = threading.Thread(target=submit_all)
            submitter.start()
            while len(accepted) < 60:
                time.sleep(0.05)
            restart_postgres()
            # SIGKILL worker 0 in the middle of a task: one of its runs started and not ended
            victim = procs[0].pid
            deadline = time.time() + 120
            while time.time() < deadline:
                lines = engine_log.read_text().splitlines() if engine_log.exists() else []
                mine = [line.split()[:2] for line in lines if line.endswith(f" {victim}")]
                if len(mine) > 10 and mine[-1][0] == "start":
                    break
                time.sleep(0.005)
            interrupted = mine[-1][1]
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(10)
            submitter.join(300)
            assert len(accepted) == TASKS and len(set(accepted)) == TASKS

            deadline = time.time() + 300
            with httpx.Client(headers={"X-Api-Key": key}, timeout=30) as client:
                while time.time() < deadline:
                    try:
                        bodies = [
                            client.get(f"{servers[i % 2].url}/api/task-status/{t}").json()
                            for i, t in enumerate(accepted)
                        ]
                    except httpx.HTTPError:
                        time.sleep(1)
                        continue
                    if all(b["status"] in ("completed", "failed", "canceled") for b in bodies):
                        break
                    time.sleep(1)
            assert [b["status"] for b in bodies].count("completed") == TASKS, [
                b for b in bodies if b["status"] != "completed"
            ][:3]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(30)
                    except subprocess.TimeoutExpired:
                        p.kill()
            for server in servers:
                server.stop()
            s3.stop()

    completions = []
    for log in worker_logs:
        completions += re.findall(r"task ([0-9a-f]{32}) completed", log.read_text())
    assert sorted(completions) == sorted(accepted), "each task completes exactly once"
    starts = re.findall(r"start ([0-9a-f]{32})", engine_log.read_text())
    assert set(starts) == set(accepted)
    assert starts.count(interrupted) >= 2, "the killed run was run again elsewhere"
    # the engine ran each task once, plus once more for each run a kill or a restart cut short
    reruns = len(starts) - TASKS
    assert 0 <= reruns <= 10, reruns
    remote_done = re.findall(r"task [0-9a-f]{32} completed", worker_logs[2].read_text())
    assert remote_done, "the remote worker did part of the work"
