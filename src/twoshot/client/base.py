"""The request-building core under ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from twoshot.client.wire import (
    Image,
    TaskResult,
    _answer,
    _couple_form,
    _headers,
    _person_form,
    _Stream,
)


class _BaseClient:
    """What ``Client`` and ``AsyncClient`` share (as httpx's two clients share
    ``BaseClient``): each call's request, built here once, and how its answer is read.
    The two only send the requests, the one blocking, the other awaited."""

    _http: httpx.Client | httpx.AsyncClient

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
    ):
        self._key = api_key
        self._http = self._open(base_url.rstrip("/"), timeout)

    @staticmethod
    def _open(base_url: str, timeout: float) -> httpx.Client | httpx.AsyncClient:
        raise NotImplementedError

    def _request(
        self, method: str, url: str, *, idempotency_key: str | None = None, **kw: Any
    ) -> httpx.Request:
        return self._http.build_request(
            method, url, headers=_headers(self._key, idempotency_key), **kw
        )

    def _couple(
        self,
        male: Image,
        female: Image,
        pose: Image | None,
        idempotency_key: str | None,
        options: dict[str, Any],
    ) -> httpx.Request:
        files, data = _couple_form(male, female, pose, **options)
        return self._request(
            "POST", "/api/couple_image", files=files, data=data, idempotency_key=idempotency_key
        )

    def _person(
        self,
        references: list[Image],
        control: Image | None,
        idempotency_key: str | None,
        options: dict[str, Any],
    ) -> httpx.Request:
        files, data = _person_form(references, control, **options)
        return self._request(
            "POST", "/api/person_image", files=files, data=data, idempotency_key=idempotency_key
        )

    def _status(self, task_id: str) -> httpx.Request:
        return self._request("GET", f"/api/task-status/{task_id}")

    def _cancel(self, task_id: str) -> httpx.Request:
        return self._request("POST", f"/api/task/{task_id}/cancel")

    def _delete(self, task_id: str) -> httpx.Request:
        return self._request("DELETE", f"/api/task/{task_id}")

    def _download(self, result: TaskResult) -> httpx.Request:
        if not result.image_url:
            raise ValueError(f"task {result.task_id} has no image ({result.status})")
        return self._http.build_request("GET", result.image_url)

    def _events(self, task_id: str, stream: _Stream, deadline: float) -> httpx.Request:
        return self._http.build_request(
            "GET",
            f"/api/task-status/{task_id}/events",
            headers=stream.headers(self._key),
            timeout=httpx.Timeout(10.0, read=max(1.0, min(60.0, deadline - time.monotonic()))),
        )

    @staticmethod
    def _polled(
        result: TaskResult,
        deadline: float,
        timeout: float,
        on_update: Callable[[TaskResult], None] | None,
    ) -> bool:
        """After one poll of ``wait``: whether the task ended; past the deadline, raise."""
        if on_update is not None:
            on_update(result)
        if result.done:
            return True
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"task {result.task_id} is still {result.status} after {timeout:.0f} s"
            )
        return False


def _task_id(response: httpx.Response) -> str:
    return str(_answer(response)["task_id"])


def _result(response: httpx.Response) -> TaskResult:
    return TaskResult.parse(_answer(response))


def _downloaded(response: httpx.Response) -> bytes:
    if response.status_code >= 400:
        _answer(response)
    return response.content
