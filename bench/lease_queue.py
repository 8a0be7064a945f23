"""The queue at scale: claims per second and task-status latency with 1k and 100k tasks in
the table, SQLite and PostgreSQL side by side (in-process, no HTTP).

    python bench/lease_queue.py [--sizes 1000 100000] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]

Status latency is the read behind every poll (key check + task, one query), at random task
ids. Claims are taken by one worker thread from a queue of that size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from common import QUICK

from twoshot.config import Settings
from twoshot.domain import JobSpec, Task, TaskStatus
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """A schema of its own on ``server``, dropped afterwards: the URL that uses it."""
    from sqlalchemy import create_engine, text

    admin = create_engine(server, pool_pre_ping=True)
    name = f"twoshot_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def fill(rt: Runtime, key_id: str, n: int) -> list[str]:
    now = datetime.now(UTC)
    spec = JobSpec(kind="person", prompt="p", references=["a" * 64])
    ids = []
    for start in range(0, n, 2000):
        chunk = [
            Task(
                id=f"{i:032x}",
                api_key_id=key_id,
                kind="person",
                status=TaskStatus.QUEUED,
                engine="e",
                spec=spec,
                created_at=now,
                updated_at=now,
            )
            for i in range(start, min(n, start + 2000))
        ]
        rt.store.submit(chunk, None, "{}")
        ids += [t.id for t in chunk]
    return ids


def measure(url: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime.build(Settings(data_dir=Path(tmp), database_url=url), checks=NoChecks())
        key, secret = rt.store.create_key("bench")
        started = time.perf_counter()
        ids = fill(rt, key.id, n)
        fill_s = time.perf_counter() - started
        rng = random.Random(0)
        latencies = []
        for _ in range(2000):
            task_id = rng.choice(ids)
            t0 = time.perf_counter()
            rt.service.status(task_id, secret)
            latencies.append((time.perf_counter() - t0) * 1e6)
        latencies.sort()
        claims = min(1000, n)
        t0 = time.perf_counter()
        for _ in range(claims):
            assert rt.store.claim("w", ["e"], 60) is not None
        claim_s = time.perf_counter() - t0
        rt.close()
    return {
        "tasks": n,
        "fill_s": round(fill_s, 1),
        "status_median_us": round(statistics.median(latencies)),
        "status_p99_us": round(latencies[int(0.99 * (len(latencies) - 1))]),
        "claims_per_s": round(claims / claim_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 100_000] if not QUICK else [100]
    )
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    report: dict[str, list[dict]] = {"sqlite": [], "postgresql": []}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            report["sqlite"].append(measure(f"sqlite:///{tmp}/queue.db", n))
        print(json.dumps({"sqlite": report["sqlite"][-1]}), flush=True)
        with postgres_schema(args.postgres) as url:
            report["postgresql"].append(measure(url, n))
        print(json.dumps({"postgresql": report["postgresql"][-1]}), flush=True)
    for backend, rows in list(report.items()):
        if len(rows) >= 2:
            report[f"{backend}_latency_ratio_largest_to_smallest"] = round(  # type: ignore[assignment]
                rows[-1]["status_median_us"] / rows[0]["status_median_us"], 2
            )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
