"""What goes over the wire: the forms, the answers, errors, and the event stream's lines."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

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
