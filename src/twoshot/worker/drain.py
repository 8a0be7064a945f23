"""Graceful stop on SIGTERM, which every scale-down and every rollout sends.

The worker stops claiming at once and finishes the task in hand if it can within
``TWOSHOT_DRAIN_SECONDS``. If it cannot, the task goes back to the queue (lease released,
attempt not counted) at the engine's next progress step; an engine stuck in one long step
gets ``HAND_BACK_SECONDS`` more, then the task is handed back from here and the process
leaves. Either way it exits 0, within ``drain + HAND_BACK_SECONDS``: a pod's
``terminationGracePeriodSeconds`` must be longer (the Helm chart adds a margin).

A second SIGTERM or Ctrl-C hands the task back now.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from twoshot.worker.loop import Worker

log = logging.getLogger(__name__)

# how long an engine may take to reach its next progress step once told to stop now
HAND_BACK_SECONDS = 5.0


class Drain:
    def __init__(
        self,
        worker: Worker,
        seconds: float,
        *,
        hand_back_seconds: float = HAND_BACK_SECONDS,
        leave: Callable[[int], object] = os._exit,
    ):
        self._worker = worker
        self._seconds = seconds
        self._hand_back_seconds = hand_back_seconds
        self._leave = leave  # the last resort: os._exit, as no thread can stop the engine's
        self._draining = threading.Event()
        self._finished = threading.Event()

    def install(self) -> None:
        """Handle SIGTERM and SIGINT (from the main thread, as Python requires)."""
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)

    def finished(self) -> None:
        """The worker's loop returned: nothing is left to hand back."""
        self._finished.set()

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._draining.is_set():
            log.info("worker %s: second signal; handing the task back now", self._worker.owner)
            self._worker.stop(now=True)
            return
        self._draining.set()
        log.info(
            "worker %s: %s; no more claims, finishing the task in hand (up to %.0f s)",
            self._worker.owner,
            signal.Signals(signum).name,
            self._seconds,
        )
        self._worker.stop()
        threading.Thread(target=self._deadline, name="drain", daemon=True).start()

    def _deadline(self) -> None:
        if self._finished.wait(self._seconds):
            return
        log.warning(
            "worker %s: task not done after %.0f s; handing it back",
            self._worker.owner,
            self._seconds,
        )
        self._worker.stop(now=True)  # at the engine's next progress step
        if self._finished.wait(self._hand_back_seconds):
            return
        log.warning(
            "worker %s: the engine reported no progress for %.0f s; handing back and leaving",
            self._worker.owner,
            self._hand_back_seconds,
        )
        try:
            self._worker.hand_back()
        finally:
            logging.shutdown()
            self._leave(0)
