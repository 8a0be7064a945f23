"""Wake-up latency of ``Prefer: wait``: from the commit that ends a task to the waiting
client's answer, on SQLite and on PostgreSQL (part of ``bench/api.py``).

No worker runs: a client submits a couple with ``Prefer: wait=10`` and the bench ends the
task itself, either at once (it watches the database for the new task and cancels it the
moment it appears: the window in which a waiter that reads before it watches misses the
wake-up) or after the waiter is registered (``+0.1 s``: the notification path alone).
On SQLite the task is canceled through the API (in the server's process, as a local worker
would end it); on PostgreSQL from this process through the store (as a worker elsewhere
would: the server hears of it by NOTIFY). Latency = the answer's arrival - the task's
``finished_at`` (one machine, one clock).

    python bench/api.py --wakeup-only [--rounds 40]
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from lease_queue import postgres_schema

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get(
    "TWOSHOT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def one_round(
    base: str, key: str, store: object, files: dict, end: Callable[[str], None], delay: float
) -> float:
    seen = {t.id for t in store.account_tasks(None, limit=200)}  # type: ignore[attr-defined]
    arrived: list[float] = []

    def wait() -> None:
        r = httpx.post(
            f"{base}/api/couple_image",
            headers={"X-Api-Key": key, "Prefer": "wait=10"},
            files=files,
            timeout=30,
        )
        arrived.append(time.time())
        assert r.status_code == 200, r.text

    client = threading.Thread(target=wait)
    client.start()
    deadline = time.time() + 20
    while True:  # the new task, as soon as it is committed
        new = [t for t in store.account_tasks(None, limit=5) if t.id not in seen]  # type: ignore[attr-defined]
        if new:
            break
        assert time.time() < deadline, "the submission never showed up"
        time.sleep(0.001)
    if delay:
        time.sleep(delay)
    end(new[0].id)
    client.join(30)
    finished = store.get_task(new[0].id).finished_at  # type: ignore[attr-defined]
    return arrived[0] - finished.timestamp()


def measure(url: str, port: int, rounds: int, files: dict) -> dict[str, dict[str, float]]:
    from api import start_server
    from common import create_key

    from twoshot.config import Settings
    from twoshot.runtime import Runtime

    tmp = Path(f"/tmp/twoshot-wakeup-{uuid.uuid4().hex[:8]}")
    env = {
        **os.environ,
        "TWOSHOT_DATA_DIR": str(tmp),
        "TWOSHOT_DATABASE_URL": url,
        "TWOSHOT_FACE_CHECKS": "false",
        "TWOSHOT_WORKERS": "0",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}:{ROOT / 'bench'}",
    }
    key = create_key(env)
    # a process of ours as a worker's would be: what ends a task there tells the others
    rt = Runtime.build(Settings(database_url=url, data_dir=tmp, face_checks=False))
    store = rt.store
    key_id = store.authenticate(key).id  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port)

    def end(task_id: str) -> None:
        if url.startswith("sqlite"):  # in the server's process, as its worker would
            httpx.post(f"{base}/api/task/{task_id}/cancel", headers={"X-Api-Key": key})
        else:  # from another process: the server hears of it by NOTIFY
            store.cancel(task_id, key_id)

    try:
        one_round(base, key, store, files, end, 0.1)  # warm up
        out = {}
        for name, delay in (("at_once", 0.0), ("after_0_1_s", 0.1)):
            out[name] = percentiles(
                [one_round(base, key, store, files, end, delay) for _ in range(rounds)]
            )
        return out
    finally:
        server.terminate()
        server.wait(30)
        rt.close()


def wakeup(rounds: int, files: dict, port: int = 8790) -> dict:
    """Both databases; PostgreSQL only where it answers."""
    tmp = Path(f"/tmp/twoshot-wakeup-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    result = {"sqlite": measure(f"sqlite:///{tmp / 'twoshot.db'}", port, rounds, files)}
    try:
        with postgres_schema(POSTGRES) as url:
            result["postgresql"] = measure(url, port + 1, rounds, files)
    except Exception as exc:  # no server here
        result["postgresql"] = {"skipped": type(exc).__name__}  # type: ignore[dict-item]
    return result
