"""Refusals by code, per key and day: what the dashboard's usage and admin views show.

A refused submission creates no task, so its count is kept apart from the task outcomes;
a result withheld by the screen (``unsafe_content``) is a failed task and is counted in both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from twoshot.errors import InvalidInput

log = logging.getLogger(__name__)

# the content policy's codes, in the order the dashboard shows them
CODES = ("prompt_refused", "unsafe_input", "apparent_minor", "unsafe_content")
SUBMISSION_CODES = frozenset(CODES[:3])


class RefusalCounter(Protocol):
    def count_refusal(self, api_key_id: str, code: str, day: int) -> None: ...


@contextmanager
def counted(store: RefusalCounter, api_key_id: str, clock: Callable[[], float]) -> Iterator[None]:
    """Count a submission the content policy refuses against its key and day."""
    try:
        yield
    except InvalidInput as exc:
        if exc.code in SUBMISSION_CODES:
            try:
                store.count_refusal(api_key_id, exc.code, int(clock() // 86400))
            except Exception:  # the answer is the refusal; a lost count must not hide it
                log.exception("could not count a %s refusal", exc.code)
        raise
