"""A small typed client for a twoshot server (or the hosted API it implements).

    from twoshot.client import Client
    with Client("http://127.0.0.1:8000", api_key="ts_…") as c:
        result = c.wait(c.couple("male.jpg", "female.jpg", prompt="at the beach"))
        Path("out.jpg").write_bytes(c.download(result))

``AsyncClient`` has the same methods, awaitable. Images are paths, bytes, or http(s) URLs.
The key defaults to ``TWOSHOT_API_KEY``. Errors raise ``ApiError`` with the server's code.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["ApiError", "AsyncClient", "Client", "TaskResult"]

Image = str | Path | bytes
TERMINAL = ("completed", "failed", "canceled")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    status: str
    image_url: str | None
    progress: float
    error: dict[str, str] | None
    quality: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def parse(cls, body: dict[str, Any]) -> TaskResult:
        return cls(
            task_id=body["task_id"],
            status=body["status"],
            image_url=body.get("image_url"),
            progress=float(body.get("progress") or 0.0),
            error=body.get("error"),
            quality=body.get("quality"),
            raw=body,
        )


def _image_field(name: str, image: Image, files: dict, data: dict) -> None:
    if isinstance(image, str) and image.startswith(("http://", "https://", "data:")):
        data[f"{name}Url"] = image
    elif isinstance(image, bytes):
        files[name] = (f"{name}.jpg", image, "application/octet-stream")
    else:
        path = Path(image)
        files[name] = (path.name, path.read_bytes(), "application/octet-stream")


def _options(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def _couple_form(
    male: Image, female: Image, pose: Image | None, **options: Any
) -> tuple[dict, dict]:
    files: dict = {}
    data = _options(**options)
    _image_field("maleImage", male, files, data)
    _image_field("femaleImage", female, files, data)
    if pose is not None:
        _image_field("poseImage", pose, files, data)
    return files, data


def _person_form(
    references: list[Image], control: Image | None, **options: Any
) -> tuple[dict, dict]:
    if not 1 <= len(references) <= 4:
        raise ValueError("send 1 to 4 reference photos")
    files: dict = {}
    data = _options(**options)
    for i, ref in enumerate(references):
        _image_field(f"personImages[{i}]", ref, files, data)
    if control is not None:
        _image_field("controlImage", control, files, data)
    return files, data


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            err = response.json()["error"]
        except Exception:
            raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        raise ApiError(
            response.status_code, err.get("code", "error"), err.get("message", ""), err.get("field")
        )
    return response.json() if response.content else {}


def _headers(api_key: str | None, idempotency_key: str | None = None) -> dict[str, str]:
    key = api_key or os.environ.get("TWOSHOT_API_KEY")
    if not key:
        raise ValueError("no API key: pass api_key= or set TWOSHOT_API_KEY")
    headers = {"X-Api-Key": key, "accept": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


class _Stream:
    """Reads the task-status event stream; remembers where it was, to resume."""

    MAX_BREAKS = 3

    def __init__(self, task_id: str, on_update: Callable[[TaskResult], None] | None):
        self._task_id = task_id
        self._on_update = on_update
        self.last_id: str | None = None
        self.breaks = 0
        self._fields: dict[str, str] = {}

    @property
    def usable(self) -> bool:
        return self.breaks < self.MAX_BREAKS

    def broke(self) -> None:
        self.breaks += 1

    def headers(self, key: str | None) -> dict[str, str]:
        headers = {**_headers(key), "Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        return headers

    def feed(self, line: str) -> TaskResult | None:
        """One line of the stream; the final result once its ``done`` event is complete."""
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(":")
                self._fields[name] = value.removeprefix(" ")
            return None
        fields, self._fields = self._fields, {}
        event, data, event_id = fields.get("event"), fields.get("data"), fields.get("id")
        if data is None:
            return None
        if event_id is not None:
            self.last_id = event_id
        body = json.loads(data)
        if event == "error":
            error = body.get("error", {})
            raise ApiError(404, error.get("code", "error"), error.get("message", ""))
        if event == "done":
            result = TaskResult.parse(body)
            if self._on_update is not None:
                self._on_update(result)
            return result
        if event == "progress" and self._on_update is not None:
            self._on_update(TaskResult.parse(body))
        return None


class Client:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
    ):
        self._key = api_key
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

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
        files, data = _couple_form(male, female, pose, **options)
        r = self._http.post(
            "/api/couple_image",
            files=files,
            data=data,
            headers=_headers(self._key, idempotency_key),
        )
        return str(_answer(r)["task_id"])

    def person(
        self,
        references: list[Image],
        control: Image | None = None,
        *,
        prompt: str,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        files, data = _person_form(references, control, prompt=prompt, **options)
        r = self._http.post(
            "/api/person_image",
            files=files,
            data=data,
            headers=_headers(self._key, idempotency_key),
        )
        return str(_answer(r)["task_id"])

    def status(self, task_id: str) -> TaskResult:
        return TaskResult.parse(
            _answer(self._http.get(f"/api/task-status/{task_id}", headers=_headers(self._key)))
        )

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
                with self._http.stream(
                    "GET",
                    f"/api/task-status/{task_id}/events",
                    headers=stream.headers(self._key),
                    timeout=httpx.Timeout(
                        10.0, read=max(1.0, min(60.0, deadline - time.monotonic()))
                    ),
                ) as r:
                    if r.status_code != 200:
                        if r.status_code in (401, 403):
                            r.read()
                            _answer(r)
                        break
                    for line in r.iter_lines():
                        if (result := stream.feed(line)) is not None:
                            return result
                    stream.broke()  # closed before the end: resume from the last event id
            except (httpx.TransportError, httpx.StreamError):
                stream.broke()
        while True:
            result = self.status(task_id)
            if on_update is not None:
                on_update(result)
            if result.done:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} is still {result.status} after {timeout:.0f} s")
            time.sleep(poll)

    def cancel(self, task_id: str) -> TaskResult:
        return TaskResult.parse(
            _answer(self._http.post(f"/api/task/{task_id}/cancel", headers=_headers(self._key)))
        )

    def delete(self, task_id: str) -> None:
        _answer(self._http.delete(f"/api/task/{task_id}", headers=_headers(self._key)))

    def download(self, result: TaskResult) -> bytes:
        if not result.image_url:
            raise ValueError(f"task {result.task_id} has no image ({result.status})")
        r = self._http.get(result.image_url)
        if r.status_code >= 400:
            _answer(r)
        return r.content


class AsyncClient:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
    ):
        self._key = api_key
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

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
        files, data = _couple_form(male, female, pose, **options)
        r = await self._http.post(
            "/api/couple_image",
            files=files,
            data=data,
            headers=_headers(self._key, idempotency_key),
        )
        return str(_answer(r)["task_id"])

    async def person(
        self,
        references: list[Image],
        control: Image | None = None,
        *,
        prompt: str,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        files, data = _person_form(references, control, prompt=prompt, **options)
        r = await self._http.post(
            "/api/person_image",
            files=files,
            data=data,
            headers=_headers(self._key, idempotency_key),
        )
        return str(_answer(r)["task_id"])

    async def status(self, task_id: str) -> TaskResult:
        return TaskResult.parse(
            _answer(
                await self._http.get(f"/api/task-status/{task_id}", headers=_headers(self._key))
            )
        )

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
                async with self._http.stream(
                    "GET",
                    f"/api/task-status/{task_id}/events",
                    headers=stream.headers(self._key),
                    timeout=httpx.Timeout(
                        10.0, read=max(1.0, min(60.0, deadline - time.monotonic()))
                    ),
                ) as r:
                    if r.status_code != 200:
                        if r.status_code in (401, 403):
                            await r.aread()
                            _answer(r)
                        break
                    async for line in r.aiter_lines():
                        if (result := stream.feed(line)) is not None:
                            return result
                    stream.broke()  # closed before the end: resume from the last event id
            except (httpx.TransportError, httpx.StreamError):
                stream.broke()
        while True:
            result = await self.status(task_id)
            if on_update is not None:
                on_update(result)
            if result.done:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} is still {result.status} after {timeout:.0f} s")
            await asyncio.sleep(poll)

    async def cancel(self, task_id: str) -> TaskResult:
        return TaskResult.parse(
            _answer(
                await self._http.post(f"/api/task/{task_id}/cancel", headers=_headers(self._key))
            )
        )

    async def delete(self, task_id: str) -> None:
        _answer(await self._http.delete(f"/api/task/{task_id}", headers=_headers(self._key)))

    async def download(self, result: TaskResult) -> bytes:
        if not result.image_url:
            raise ValueError(f"task {result.task_id} has no image ({result.status})")
        r = await self._http.get(result.image_url)
        if r.status_code >= 400:
            _answer(r)
        return r.content
