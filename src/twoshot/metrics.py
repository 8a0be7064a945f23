"""Prometheus metrics of one process, in a registry of its own (no global state).

- ``twoshot_tasks{status}``: tasks in the store by status (read from the store at scrape time)
- ``twoshot_queue_depth{engine}``: queued plus running tasks per engine (the store's
  ``queue_depth`` view, at scrape time): what an autoscaler reads where it should not hold
  database credentials. Every API replica reports the same number: take ``max``, not ``sum``
- ``twoshot_queue_wait_seconds{engine,kind}``: submission to claim, each claim
- ``twoshot_task_duration_seconds{engine,kind}``: claim to finish (run time), completed tasks
- ``twoshot_task_failures_total{engine,code}``: failed tasks by error code
- ``twoshot_worker_current_task{worker,engine,kind,task_id}``: UNIX time the worker started
  the task it runs now (one series per busy worker; gone when it finishes)
- ``twoshot_gpu_memory_bytes{device,kind}``: allocated and reserved by torch, when a GPU is
  in use in this process
- ``twoshot_rejections_total{code}``: requests refused with a 4xx, by code (fetch refusals
  are ``url_not_allowed`` and ``fetch_failed``)
- ``twoshot_policy_refusals_total{code}``: the content policy's refusals: prompts
  (``prompt_refused``), pictures (``unsafe_input``, ``apparent_minor``) and withheld results
  (``unsafe_content``, counted by the worker that screened them)
- ``twoshot_worker_heartbeats_total{worker}`` and ``twoshot_worker_last_heartbeat_seconds{worker}``
- ``twoshot_webhook_deliveries_total{outcome}``
- ``twoshot_waiting_clients``: requests waiting on a task now (``Prefer: wait``, event streams)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _QueueCollector(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]):
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "twoshot_tasks", "Tasks in the store by status", labels=["status"]
        )
        for status, n in self._counts().items():
            family.add_metric([status], n)
        yield family


class _DepthCollector(Collector):
    def __init__(self, depth: Callable[[], dict[str, int]]):
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "twoshot_queue_depth",
            "Queued plus running tasks per engine (what the worker pools scale on)",
            labels=["engine"],
        )
        for engine, n in sorted(self._depth().items()):
            family.add_metric([engine], n)
        yield family


class _GpuCollector(Collector):
    """torch's GPU memory, read at scrape time; nothing unless this process already uses
    torch on a GPU (it never imports torch itself)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        torch = sys.modules.get("torch")
        family = GaugeMetricFamily(
            "twoshot_gpu_memory_bytes", "GPU memory held by torch", labels=["device", "kind"]
        )
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            for i in range(torch.cuda.device_count()):
                family.add_metric([f"cuda:{i}", "allocated"], torch.cuda.memory_allocated(i))
                family.add_metric([f"cuda:{i}", "reserved"], torch.cuda.memory_reserved(i))
        yield family


class Metrics:
    def __init__(
        self,
        counts: Callable[[], dict[str, int]] | None = None,
        depth: Callable[[], dict[str, int]] | None = None,
    ):
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_wait = Histogram(
            "twoshot_queue_wait_seconds",
            "Seconds from submission to claim",
            ["engine", "kind"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.current_task = Gauge(
            "twoshot_worker_current_task",
            "UNIX time the worker started its current task",
            ["worker", "engine", "kind", "task_id"],
            registry=r,
        )
        self.task_duration = Histogram(
            "twoshot_task_duration_seconds",
            "Seconds from claim to finish of completed tasks",
            ["engine", "kind"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.task_failures = Counter(
            "twoshot_task_failures_total",
            "Failed tasks by error code",
            ["engine", "code"],
            registry=r,
        )
        self.rejections = Counter(
            "twoshot_rejections_total",
            "Requests refused with a 4xx, by error code",
            ["code"],
            registry=r,
        )
        self.policy_refusals = Counter(
            "twoshot_policy_refusals_total",
            "Submissions refused and results withheld by the content policy, by code",
            ["code"],
            registry=r,
        )
        self.heartbeats = Counter(
            "twoshot_worker_heartbeats_total", "Lease heartbeats sent", ["worker"], registry=r
        )
        self.last_heartbeat = Gauge(
            "twoshot_worker_last_heartbeat_seconds",
            "UNIX time of the last heartbeat",
            ["worker"],
            registry=r,
        )
        self.webhooks = Counter(
            "twoshot_webhook_deliveries_total", "Webhook delivery attempts", ["outcome"], registry=r
        )
        self.waiting_clients = Gauge(
            "twoshot_waiting_clients",
            "Requests waiting on a task now (Prefer: wait, event streams)",
            registry=r,
        )
        if counts is not None:
            r.register(_QueueCollector(counts))
        if depth is not None:
            r.register(_DepthCollector(depth))
        r.register(_GpuCollector())

    def render(self) -> bytes:
        return generate_latest(self.registry)
