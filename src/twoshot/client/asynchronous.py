"""The asyncio client: ``Client``'s methods, awaitable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from twoshot.client.base import _BaseClient, _downloaded, _result, _task_id
from twoshot.client.wire import Image, TaskResult, _answer, _Stream


class AsyncClient(_BaseClient):
    _http: httpx.AsyncClient

    @staticmethod
    def _open(base_url: str, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def couple(
        self,
        male: Image,
        female: Image,
        pose: Image | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        request = self._couple(male, female, pose, idempotency_key, options)
        return _task_id(await self._http.send(request))

    async def person(
        self,
        references: list[Image],
        control: Image | None = None,
        *,
        prompt: str,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        request = self._person(references, control, idempotency_key, {"prompt": prompt, **options})
        return _task_id(await self._http.send(request))

    async def status(self, task_id: str) -> TaskResult:
        return _result(await self._http.send(self._status(task_id)))

    async def wait(
        self,
        task_id: str,
        *,
        poll: float = 0.5,
        timeout: float = 900.0,
        on_update: Callable[[TaskResult], None] | None = None,
    ) -> TaskResult:
        """As ``Client.wait``: the event stream, then polling."""
        deadline = time.monotonic() + timeout
        stream = _Stream(task_id, on_update)
        while stream.usable and time.monotonic() < deadline:
            try:
                r = await self._http.send(self._events(task_id, stream, deadline), stream=True)
                try:
                    if r.status_code != 200:
                        if r.status_code in (401, 403):
                            await r.aread()
                            _answer(r)
                        break
                    async for line in r.aiter_lines():
                        if (final := stream.feed(line)) is not None:
                            return final
                    stream.broke()  # closed before the end: resume from the last event id
                finally:
                    await r.aclose()
            except (httpx.TransportError, httpx.StreamError):
                stream.broke()
        while not self._polled(result := await self.status(task_id), deadline, timeout, on_update):
            await asyncio.sleep(poll)
        return result

    async def cancel(self, task_id: str) -> TaskResult:
        return _result(await self._http.send(self._cancel(task_id)))

    async def delete(self, task_id: str) -> None:
        _answer(await self._http.send(self._delete(task_id)))

    async def download(self, result: TaskResult) -> bytes:
        return _downloaded(await self._http.send(self._download(result)))
