"""Shared by the benchmarks: timing and the test photos."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# BENCH_QUICK=1 (CI: `BENCH_QUICK=1 make bench`) runs every benchmark on its smallest
# settings: it checks that the scripts run, and its figures mean nothing
QUICK = os.environ.get("BENCH_QUICK") == "1"


def quick(full: int, small: int) -> int:
    return small if QUICK else full


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 2) -> tuple[float, float]:
    """Median and 90th percentile, in milliseconds, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def create_key(env: dict[str, str]) -> str:
    """A new API key in the database ``env`` names, through the CLI."""
    return subprocess.run(
        [sys.executable, "-m", "twoshot", "keys", "create", "--name", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
