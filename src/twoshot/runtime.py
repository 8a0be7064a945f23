"""The composition root: builds the collaborators from ``Settings`` and hands them around.

Only the CLI and tests build a ``Runtime``; nothing is created at import time.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

from twoshot.blobs import Blobs, LocalBlobs
from twoshot.config import Settings
from twoshot.election import Lease, process_name
from twoshot.engines import Engine, Serialized, load_engine, per_thread
from twoshot.fetch import Fetcher, FetchPolicy
from twoshot.images import Limits
from twoshot.live import PgListener, PgNotifier, TaskEvents, conninfo_from_url
from twoshot.live_sqlite import LocalListener, LocalNotifier, local_folder
from twoshot.metrics import Metrics
from twoshot.provenance import Provenance
from twoshot.safety import ContentPolicy
from twoshot.service import InputChecks, Intake, NoChecks, Service
from twoshot.service.accounts import Accounts
from twoshot.service.dashboard import Dashboard
from twoshot.service.workers import RemoteWork, queue_depth
from twoshot.store import Store, open_store
from twoshot.worker import Worker
from twoshot.worker.loop import Evaluator, WorkerState

log = logging.getLogger(__name__)


def make_blobs(settings: Settings) -> Blobs:
    if settings.blob_url:
        from twoshot.blobs.s3 import S3Blobs

        return S3Blobs.from_url(settings.blob_url, endpoint_url=settings.s3_endpoint_url)
    return LocalBlobs(settings.data_dir / "blobs")


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allow_private=settings.fetch_allow_private,
        connect_timeout=settings.fetch_connect_timeout,
        total_timeout=settings.fetch_total_timeout,
        max_redirects=settings.fetch_max_redirects,
        max_bytes=settings.max_upload_bytes,
    )


WEBHOOK_LEASE = 30.0  # seconds: a dead sender's deliveries wait at most this for another


def sweeper_lease(settings: Settings) -> str:
    """The sweeper's lease: one per blob store (S3, or this host's data directory)."""
    where = settings.blob_url or f"{socket.gethostname()}:{settings.data_dir.resolve()}"
    return "sweeper:" + hashlib.sha256(where.encode()).hexdigest()[:16]


def default_checks() -> InputChecks:
    from twoshot.vision.checks import VisionChecks

    return VisionChecks.shared()


def default_evaluator() -> Evaluator:
    from twoshot.vision.evaluate import IdentityEvaluator

    return IdentityEvaluator()


@dataclass(frozen=True)
class Background:
    """What ``Runtime.start`` runs: in-process workers, the retention sweeper, webhooks."""

    workers: int = 0
    evaluator: Evaluator | None = None
    sweeper: bool = False
    webhooks: bool = False
    listen: bool = True  # hear of tasks changed by other processes (PostgreSQL, SQLite)


class RuntimeState(StrEnum):
    NEW = "new"  # built; ``plan`` may still change what ``start`` runs
    STARTED = "started"  # its threads run
    STOPPED = "stopped"  # its threads are joined; ``start`` begins afresh


@dataclass
class Runtime:
    settings: Settings
    store: Store
    blobs: Blobs
    fetcher: Fetcher
    service: Service
    metrics: Metrics
    provenance: Provenance
    accounts: Accounts
    remote_work: RemoteWork
    dashboard: Dashboard
    events: TaskEvents = field(default_factory=TaskEvents)
    workers: list[Worker] = field(default_factory=list)
    background: Background = field(default_factory=Background)
    _background_stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _engines: dict[str, Engine] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    listener: PgListener | LocalListener | None = None
    policy: ContentPolicy = field(default_factory=ContentPolicy.off)
    owner: str = field(default_factory=process_name)  # this process, as a lease owner
    notifier: PgNotifier | LocalNotifier | None = None
    state: RuntimeState = RuntimeState.NEW

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        checks: InputChecks | None = None,
        fetcher: Fetcher | None = None,
        store: Store | None = None,
        policy: ContentPolicy | None = None,
    ) -> Runtime:
        """``policy``: the content policy, by default the settings' (tests inject scores)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # httpx logs every request's URL at INFO; the fetcher's URLs are users' photo URLs
        # (tokens and all), which never go into twoshot's logs
        logging.getLogger("httpx").setLevel(logging.WARNING)
        store = store or open_store(settings.resolved_database_url)
        blobs = make_blobs(settings)
        limits = Limits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
        fetcher = fetcher or Fetcher(fetch_policy(settings))
        if checks is None:
            checks = default_checks() if settings.face_checks else NoChecks()
        policy = policy or ContentPolicy.from_settings(settings)
        intake = Intake(
            fetcher, blobs, checks, limits, settings.reference_max_side, policy=policy.inputs
        )
        service = Service(
            store,
            blobs,
            intake,
            default_engine=settings.engine,
            engines=settings.allowed_engines,
            max_attempts=settings.max_attempts,
            max_prompt_chars=settings.max_prompt_chars,
            max_batch_items=settings.max_batch_items,
            max_batch_references=settings.max_batch_references,
            result_ttl=settings.result_ttl,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            quota_per_day=settings.quota_per_day,
            max_queued=settings.max_queued,
            prompts=policy.prompts,
        )
        store.on_ended(service.tasks_ended)  # however a task ends, its inputs are released
        provenance = Provenance.from_settings(settings)
        metrics = Metrics(
            store.count_by_status, partial(queue_depth, store, settings.allowed_engines)
        )
        accounts = Accounts(
            store,
            session_ttl=settings.session_ttl,
            link_ttl=settings.sign_in_link_ttl,
            failures_per_account=settings.sign_in_failures_per_account,
            failures_per_address=settings.sign_in_failures_per_address,
        )
        remote_work = RemoteWork(store, blobs, max_lease_seconds=settings.max_lease_seconds)
        dashboard = Dashboard(store, accounts.now)
        rt = cls(
            settings,
            store,
            blobs,
            fetcher,
            service,
            metrics,
            provenance,
            accounts,
            remote_work,
            dashboard,
        )
        rt.policy = policy
        store.on_ended(lambda ended: rt.events.ended(t.id for t in ended))  # wake waiters
        # and the waiters of every other process, after the commit
        url = settings.resolved_database_url
        notifier: PgNotifier | LocalNotifier | None = None
        if url.startswith("postgresql"):
            notifier = PgNotifier(conninfo_from_url(url))
        elif url.startswith("sqlite") and (folder := local_folder(url)) is not None:
            notifier = LocalNotifier(folder)
        if notifier is not None:
            rt.notifier = notifier
            store.on_ended(lambda ended: notifier([t.id for t in ended]))
            store.on_progress(notifier)
        metrics.waiting_clients.set_function(lambda: rt.events.waiting)
        return rt

    # -- engines and workers -------------------------------------------------------------------

    def engine(self, name: str) -> Engine:
        """The engine for one more worker thread: a new one if its class is ``per_thread``,
        else the process's one instance behind a lock (see ``twoshot.engines.Engine``)."""
        with self._lock:
            shared = self._engines.get(name)
            if shared is not None:
                return shared
            engine = load_engine(name, self.settings)
            if per_thread(engine):
                return engine
            self._engines[name] = Serialized(engine)
            return self._engines[name]

    def make_worker(self, engine: Engine | str, evaluator: Evaluator | None = None) -> Worker:
        """A worker on this process's store and blobs, for an engine or an engine's name."""
        worker = Worker(
            self.store,
            self.blobs,
            self.engine(engine) if isinstance(engine, str) else engine,
            evaluator=evaluator,
            lease_seconds=self.settings.lease_seconds,
            poll_interval=self.settings.poll_interval,
            metrics=self.metrics,
            provenance=self.provenance,
            on_progress=self.events.progress,
            screen=self.policy.results,
        )
        self.workers.append(worker)
        return worker

    # -- background threads: planned, then started and stopped by the app's lifespan -----------

    def plan(self, background: Background) -> None:
        """Say what ``start`` runs. The workers' engines load now, so a missing model stops
        the command before it serves anything."""
        self.background = background
        if background.workers:
            for name in self.settings.allowed_engines:
                self.engine(name)

    def _assert_state(self, *allowed: RuntimeState) -> None:
        if self.state not in allowed:
            raise RuntimeError(f"the runtime is {self.state.value}, expected one of {allowed}")

    def start(self) -> None:
        """Start the planned threads. A stopped runtime starts afresh (new threads, a new
        stop signal); starting one that runs is an error, never a silent no-op."""
        self._assert_state(RuntimeState.NEW, RuntimeState.STOPPED)
        if self.state is RuntimeState.STOPPED:
            self._background_stop = threading.Event()
            self._threads = []
            self.workers = [w for w in self.workers if w.state is WorkerState.NEW]
        self.events.closing = False
        self.state = RuntimeState.STARTED
        plan = self.background
        # before the first request (the app's lifespan runs this before serving): the models'
        # cold load is seconds on a busy CPU, more than a client's first call should wait
        self.policy.warm()
        for name in self.settings.allowed_engines if plan.workers else []:
            for _ in range(plan.workers):
                worker = self.make_worker(name, plan.evaluator)
                self._thread(worker.run, worker.owner)
        if plan.sweeper:
            self._thread(self._sweep, "sweeper")
        if plan.webhooks:
            self.start_webhooks()
        if plan.listen and self.settings.resolved_database_url.startswith("postgresql"):
            listener = PgListener(
                conninfo_from_url(self.settings.resolved_database_url),
                self.events,
                self._background_stop,
            )
            self.listener = listener
            self._thread(listener.run, "task-notifications")
        elif plan.listen and isinstance(self.notifier, LocalNotifier):
            try:
                local = LocalListener(self.notifier.folder, self.events, self._background_stop)
            except OSError as exc:  # a read-only folder, say: waiters re-read instead
                log.warning("task notifications between processes are off: %s", exc)
            else:
                self.listener = self.notifier.own = local
                self._thread(local.run, "task-notifications")

    def _thread(self, target: Callable[[], object], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _sweep(self) -> None:
        """Retention, by one process per blob store (whichever holds its lease)."""
        lease = Lease(
            self.store,
            sweeper_lease(self.settings),
            self.owner,
            3 * self.settings.sweep_interval,
            stopping=lambda: self.events.closing,
        )
        while not self._background_stop.wait(self.settings.sweep_interval):
            if not lease.held():
                continue
            try:
                results, inputs = self.service.sweep(
                    self.settings.result_ttl, self.settings.input_grace, self.settings.orphan_grace
                )
                if results or inputs:
                    log.info("retention: deleted %d result(s), %d input(s)", results, inputs)
            except Exception:
                log.exception("retention sweep failed")
        lease.release()

    def start_webhooks(self) -> None:
        """Send webhook deliveries from a thread of this process."""
        from twoshot.webhooks import WebhookSender

        sender = WebhookSender(
            self.store,
            Fetcher(fetch_policy(self.settings)),  # its own: an httpx client per event loop
            default_base_url=self.settings.public_url or "http://127.0.0.1:8000",
            backoff=self.settings.webhook_backoff,
            max_attempts=self.settings.webhook_max_attempts,
            poll_interval=self.settings.poll_interval,
            metrics=self.metrics,
            # one sender among all processes on the database
            lease=Lease(
                self.store,
                "webhooks",
                self.owner,
                WEBHOOK_LEASE,
                stopping=lambda: self.events.closing,
            ),
        )
        self._threads.append(sender.start(self._background_stop))

    @property
    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    def stop(self, timeout: float | None = None) -> None:
        """Stop every thread this runtime started and join it: workers finish their task,
        or after ``timeout`` (default ``TWOSHOT_DRAIN_SECONDS``) hand it back to the queue."""
        if self.state is RuntimeState.STOPPED:
            return
        self.state = RuntimeState.STOPPED
        if timeout is None:
            timeout = self.settings.drain_seconds
        self._background_stop.set()
        if isinstance(self.listener, LocalListener):
            self.listener.wake()
        for worker in self.workers:
            worker.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for worker in self.workers:  # still busy after the grace period
            worker.stop(now=True)
        for thread in self._threads:
            thread.join(5)
        left = [t.name for t in self._threads if t.is_alive()]
        if left:
            log.warning("threads still running after stop: %s", ", ".join(left))

    def close(self) -> None:
        self.stop()
        if self.notifier is not None:
            self.notifier.close()
        self.store.close()


def remote_worker(
    settings: Settings, server: str, token: str, engine: str, evaluator: Evaluator | None
) -> tuple[Worker, Callable[[], None]]:
    """A worker that pulls from a twoshot server over HTTP (no database, no shared disk),
    and the function that closes its connection."""
    from twoshot.worker.remote import RemoteQueue

    remote = RemoteQueue(server, token)
    worker = Worker(
        remote,
        remote,
        load_engine(engine, settings),
        evaluator=evaluator,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        # signs with this machine's settings
        provenance=Provenance.from_settings(settings, remote=True),
        metrics=Metrics(),  # no queue gauge: this machine does not see the database
        screen=ContentPolicy.from_settings(settings).results,  # results screened before upload
    )
    return worker, remote.close
