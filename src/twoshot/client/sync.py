"""The blocking client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from twoshot.client.base import _BaseClient, _downloaded, _result, _task_id
from twoshot.client.wire import Image, TaskResult, _answer, _Stream


class Client(_BaseClient):
    _http: httpx.Client

    @staticmethod
    def _open(base_url: str, timeout: float) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def couple(
        self,
        male: Image,
        female: Image,
        pose: Image | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        """Submit; returns the task id.

        ``options``: prompt, seed, width, height, layout, engine, webhook_url.
        """
        return _task_id(self._http.send(self._couple(male, female, pose, idempotency_key, options)))

    def person(
        self,
        references: list[Image],
        control: Image | None = None,
        *,
        prompt: str,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        request = self._person(references, control, idempotency_key, {"prompt": prompt, **options})
        return _task_id(self._http.send(request))

    def status(self, task_id: str) -> TaskResult:
        return _result(self._http.send(self._status(task_id)))

    def wait(
        self,
        task_id: str,
        *,
        poll: float = 0.5,
        timeout: float = 900.0,
        on_update: Callable[[TaskResult], None] | None = None,
    ) -> TaskResult:
        """Until the task (or batch) ends: on the server's event stream, resumed if it breaks,
        then by polling every ``poll`` seconds if the stream cannot be had (a server without
        one, a proxy that buffers it)."""
        deadline = time.monotonic() + timeout
        stream = _Stream(task_id, on_update)
        while stream.usable and time.monotonic() < deadline:
            try:
                r = self._http.send(self._events(task_id, stream, deadline), stream=True)
                try:
                    if r.status_code != 200:
                        if r.status_code in (401, 403):
                            r.read()
                            _answer(r)
                        break
                    for line in r.iter_lines():
                        if (final := stream.feed(line)) is not None:
                            return final
                    stream.broke()  # closed before the end: resume from the last event id
                finally:
                    r.close()
            except (httpx.TransportError, httpx.StreamError):
                stream.broke()
        while not self._polled(result := self.status(task_id), deadline, timeout, on_update):
            time.sleep(poll)
        return result

    def cancel(self, task_id: str) -> TaskResult:
        return _result(self._http.send(self._cancel(task_id)))

    def delete(self, task_id: str) -> None:
        _answer(self._http.send(self._delete(task_id)))

    def download(self, result: TaskResult) -> bytes:
        return _downloaded(self._http.send(self._download(result)))
