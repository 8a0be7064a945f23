"""The claim → run → finish loop, with a heartbeat thread, cancellation and graceful stop.

A task is completed at most once: ``Store.finish`` only succeeds while the lease is ours, so
a worker whose lease expired (and whose task another worker took) throws its result away.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

from PIL import Image

from twoshot.blobs import new_result_name
from twoshot.domain import ErrorInfo, Task, TaskStatus
from twoshot.engines import Engine, Job, Outcome, Progress, source_type
from twoshot.errors import (
    Canceled,
    InvalidImage,
    JobFailed,
    LeaseLost,
    StorageError,
    TwoshotError,
)
from twoshot.images import Limits, decode, encode_jpeg
from twoshot.metrics import Metrics
from twoshot.provenance import Provenance
from twoshot.store import Queue

log = logging.getLogger(__name__)

Evaluator = Callable[[Job, Image.Image], dict[str, Any]]


class WorkerBlobs(Protocol):
    def get_input(self, key: str) -> bytes: ...
    def put_result(self, name: str, data: bytes) -> None: ...
    def delete_result(self, name: str) -> None: ...


class ResultScreen(Protocol):
    def result(self, image: Image.Image) -> float: ...


class WorkerState(StrEnum):
    NEW = "new"
    IDLE = "idle"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Interrupted(Exception):
    """The worker was told to stop now: the task goes back to the queue."""


class _Lease:
    """Keeps one task's lease alive from a side thread and relays progress and cancel."""

    def __init__(
        self, store: Queue, task: Task, owner: str, seconds: float, metrics: Metrics | None
    ):
        self._store, self._task, self._owner, self._seconds = store, task, owner, seconds
        self._metrics = metrics
        self.progress: float | None = None
        self._sent: float = 0.0  # the progress the store last heard
        self._sent_at = 0.0
        self.canceled = False
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{task.id[:8]}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        interval = max(0.05, self._seconds / 3)
        while not self._done.wait(interval):
            self.pulse()

    def advance(self, fraction: float) -> None:
        """Progress from the engine; the store hears of a step of 10 % or more at once (at
        most once a second), not only at the next heartbeat: other processes see it too."""
        self.progress = fraction
        now = time.monotonic()
        if fraction - self._sent >= 0.1 and now - self._sent_at >= 1.0:
            self.pulse()

    def pulse(self) -> None:
        progress = self.progress
        try:
            beat = self._store.heartbeat(self._task.id, self._owner, progress, self._seconds)
        except Exception:
            log.warning("heartbeat for task %s failed; retrying", self._task.id, exc_info=True)
            return
        self.lost = not beat.ours
        self.canceled = beat.cancel_requested
        if progress is not None:
            self._sent, self._sent_at = progress, time.monotonic()
        if self._metrics is not None:
            self._metrics.heartbeats.labels(self._owner).inc()
            self._metrics.last_heartbeat.labels(self._owner).set_to_current_time()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class Worker:
    def __init__(
        self,
        store: Queue,
        blobs: WorkerBlobs,
        engine: Engine,
        *,
        evaluator: Evaluator | None = None,
        lease_seconds: float = 60.0,
        poll_interval: float = 0.5,
        owner: str | None = None,
        metrics: Metrics | None = None,
        provenance: Provenance | None = None,
        on_progress: Callable[[str, int, float], None] | None = None,
        screen: ResultScreen | None = None,
    ):
        """``provenance`` marks every result (Content Credentials, watermark); without it
        results are plain JPEGs (tests of the loop alone). ``screen`` judges every result
        before it is stored (``twoshot.safety``): one it refuses fails ``unsafe_content``."""
        self._store = store
        self._blobs = blobs
        self._engine = engine
        self._evaluate = evaluator
        self._lease_seconds = lease_seconds
        self._poll = poll_interval
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self._metrics = metrics
        self._provenance = provenance
        self._on_progress = on_progress  # e.g. the server's TaskEvents, for its waiters
        self._screen = screen
        self.state = WorkerState.NEW
        self._stop = threading.Event()
        self._stop_now = threading.Event()
        self._current: Task | None = None  # the task in hand, for hand_back
        self.processed = 0

    @property
    def metrics(self) -> Metrics | None:
        return self._metrics

    def _assert_state(self, *allowed: WorkerState) -> None:
        if self.state not in allowed:
            raise RuntimeError(f"worker is {self.state.value}, expected one of {allowed}")

    def stop(self, *, now: bool = False) -> None:
        """Stop after the current task; with ``now``, hand the current task back to the queue."""
        self._stop.set()
        if now:
            self._stop_now.set()

    def run(self, *, burst: bool = False) -> int:
        """Work until stopped (with ``burst``: until nothing is runnable). Returns the count."""
        self._assert_state(WorkerState.NEW)
        self.state = WorkerState.IDLE
        log.info("worker %s started (engine %s)", self.owner, self._engine.name)
        try:
            while not self._stop.is_set():
                try:
                    if self.run_once():
                        continue
                except Exception:  # the store or the server is unreachable: wait and retry
                    log.warning("worker %s could not claim; retrying", self.owner, exc_info=True)
                if burst:
                    break
                self._stop.wait(self._poll)
        finally:
            self.state = WorkerState.STOPPED
            log.info("worker %s stopped after %d task(s)", self.owner, self.processed)
        return self.processed

    def run_once(self) -> bool:
        """Claim and run one task. False when nothing was runnable."""
        task = self._store.claim(self.owner, [self._engine.name], self._lease_seconds)
        if task is None:
            return False
        if self._stop.is_set():  # told to stop while the claim was on its way: not ours to run
            self._store.release(task.id, self.owner)
            return False
        self.state = WorkerState.RUNNING
        self._current = task
        try:
            self._run(task)
        finally:
            self._current = None
            self.processed += 1
            self.state = WorkerState.STOPPING if self._stop.is_set() else WorkerState.IDLE
        return True

    def hand_back(self) -> bool:
        """Release the task in hand from another thread (lease freed, attempt not counted),
        for a process about to leave while its engine is still inside a step. Whichever
        of this and the loop's own finish comes first wins; the other finds the lease gone."""
        task = self._current
        if task is None:
            return False
        released = self._store.release(task.id, self.owner)
        if released:
            log.info("task %s handed back to the queue (worker leaving)", task.id)
        return released

    def _run(self, task: Task) -> None:
        lease = _Lease(self._store, task, self.owner, self._lease_seconds, self._metrics)
        started = time.perf_counter()
        current = None
        if self._metrics is not None:
            waited = max(0.0, time.time() - task.created_at.timestamp())
            self._metrics.queue_wait.labels(self._engine.name, task.kind).observe(waited)
            current = (self.owner, self._engine.name, task.kind, task.id)
            self._metrics.current_task.labels(*current).set_to_current_time()
        try:
            self._run_leased(task, lease, started)
        finally:
            if current is not None and self._metrics is not None:
                self._metrics.current_task.remove(*current)

    def _run_leased(self, task: Task, lease: _Lease, started: float) -> None:

        def progress(fraction: float) -> None:
            lease.advance(fraction)
            if self._on_progress is not None:
                self._on_progress(task.id, task.claims, fraction)
            if self._stop_now.is_set():
                raise Interrupted
            if lease.canceled:
                raise Canceled
            if lease.lost:
                raise LeaseLost

        status, result, quality, error = TaskStatus.FAILED, None, None, None
        try:
            job = self._job(task)
            outcome = self._generate(job, progress)
            lease.pulse()  # learn of a cancel that came in while the engine ran
            if lease.lost:
                raise LeaseLost
            if lease.canceled:
                raise Canceled
            if outcome.error is not None:
                raise outcome.error
            if outcome.image is None:
                raise JobFailed("the engine returned no image")
            quality = dict(outcome.notes)
            if self._screen is not None:  # raises unsafe_content: nothing is stored
                quality["safety"] = {"nsfw": round(self._screen.result(outcome.image), 4)}
            if self._evaluate is not None:
                quality.update(self._evaluate(job, outcome.image))
            jpeg = self._encode(outcome, quality)
            # a remote server names each upload itself, for the task this worker holds
            name_for = getattr(self._blobs, "result_name", None)
            result = name_for(task.id, self.owner) if name_for is not None else new_result_name()
            try:
                self._blobs.put_result(result, jpeg)
            except Exception as exc:
                log.exception("task %s: the result could not be stored", task.id)
                raise StorageError(
                    f"the result could not be stored ({type(exc).__name__}); the server's "
                    "storage is failing, try again later"
                ) from None
            status = TaskStatus.COMPLETED
        except Canceled:
            status = TaskStatus.CANCELED
        except LeaseLost:
            log.warning("task %s: lease lost to another worker; dropping our run", task.id)
            lease.stop()
            return
        except Interrupted:
            lease.stop()
            self._store.release(task.id, self.owner)
            log.info("task %s handed back to the queue (worker stopping)", task.id)
            return
        except TwoshotError as exc:
            error = ErrorInfo(exc.code, exc.message)
        except Exception as exc:
            log.exception("task %s: engine %s failed", task.id, self._engine.name)
            error = ErrorInfo(
                "engine_error", f"the {self._engine.name} engine failed: {type(exc).__name__}"
            )
        lease.stop()
        finished = self._store.finish(
            task.id, self.owner, status, result_key=result, quality=quality, error=error
        )
        if not finished:
            log.warning("task %s was taken over or deleted meanwhile; result discarded", task.id)
            if result:
                self._blobs.delete_result(result)
            return
        elapsed = time.perf_counter() - started
        if self._metrics is not None:
            if status is TaskStatus.COMPLETED:
                self._metrics.task_duration.labels(self._engine.name, task.kind).observe(elapsed)
            elif error is not None:
                self._metrics.task_failures.labels(self._engine.name, error.code).inc()
                if error.code == "unsafe_content":
                    self._metrics.policy_refusals.labels(error.code).inc()
        log.info(
            "task %s %s in %.2f s (attempt %d)%s",
            task.id,
            status.value,
            elapsed,
            task.attempts,
            f": {error.code}" if error else "",
        )

    def _encode(self, outcome: Outcome, quality: dict[str, Any]) -> bytes:
        assert outcome.image is not None
        if self._provenance is None:
            return encode_jpeg(outcome.image)
        marked = self._provenance.encode(
            outcome.image,
            engine=self._engine.name,
            source_type=source_type(self._engine, outcome.notes),
        )
        quality["provenance"] = marked.applied
        return marked.jpeg

    def _job(self, task: Task) -> Job:
        images = {}
        for key in task.spec.input_keys():
            try:
                data = self._blobs.get_input(key)
            except FileNotFoundError:
                raise JobFailed(
                    "an input image of this task is gone (deleted meanwhile); submit it again",
                    code="input_missing",
                ) from None
            try:
                images[key] = decode(data, Limits(max_bytes=1 << 62, max_pixels=1 << 62)).image
            except InvalidImage as exc:
                raise JobFailed(
                    f"a stored input could not be read: {exc.message}", code="input_missing"
                ) from None
        return Job(task_id=task.id, spec=task.spec, images=images)

    def _generate(self, job: Job, progress: Progress) -> Outcome:
        outcomes = self._engine.generate([job], progress)
        if len(outcomes) != 1:
            raise JobFailed(f"the engine returned {len(outcomes)} outcomes for 1 job")
        return outcomes[0]
