"""Answering waiting clients when the server is asked to stop, whatever ASGI server runs us.

Servers wait for open connections to close before they run the app's lifespan shutdown
(uvicorn does, with no time limit by default), and an event stream never closes by itself:
releasing waiters only in the lifespan shutdown would come too late. So, while the app
serves, SIGTERM and SIGINT first wake every waiter (each answers with what it has, and
streams end; clients resume elsewhere), then reach the handler that was there before: the
server's own, which goes on to shut down as it would have.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from twoshot.live import TaskEvents

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def release_waiters_on_stop(events: TaskEvents) -> Callable[[], None]:
    """Chain ``events.close`` in front of the stop signals' handlers; returns the undo.

    Only the main thread may set signal handlers: an app served from another thread (the
    tests' servers) relies on whoever runs that thread to call ``events.close``."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    before: dict[int, Any] = {}

    def handler(sig: int, frame: FrameType | None) -> None:
        events.close_soon()  # no lock here: the signal may have come inside one
        previous = before.get(sig)
        if callable(previous):
            previous(sig, frame)
        elif previous == signal.SIG_DFL:  # nobody handled it: do what the default does
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in SIGNALS:
        before[sig] = signal.signal(sig, handler)

    def undo() -> None:
        for sig, previous in before.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return undo
