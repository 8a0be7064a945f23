"""What a remote worker may do over HTTP, checked: the boundary between the server and
machines that hold only a worker token.

A worker sees only the tasks it claimed. Every result name comes from the server, one per
upload, bound to the task and to the worker holding its lease (with S3, a presigned URL
minted for that upload, not at claim time, so a long run cannot outlive it). A worker can
write, finish with, or delete that one name and nothing else; leases are clamped to the
server's maximum; whatever it sends is validated and refused with 400, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from twoshot.blobs import Blobs, is_input_key, is_result_name, new_result_name
from twoshot.domain import ErrorInfo, Task, TaskStatus
from twoshot.errors import InvalidInput, NotFound, Unauthorized
from twoshot.store import Heartbeat, Store

# the upload follows the request for it at once; this only bounds a leaked URL's life
UPLOAD_URL_SECONDS = 600
# a worker's quality report goes into every task-status body of its task: bounded, and only
# what every JSON encoder on the way out takes (no NaN or Infinity, integers within 64 bits)
QUALITY_MAX_BYTES = 64 << 10
QUALITY_MAX_DEPTH = 32


def _check_quality(quality: Any, depth: int = 0) -> None:
    if depth == 0 and quality is not None:
        try:
            size = len(json.dumps(quality, allow_nan=False))
        except (ValueError, RecursionError):
            size = None
        if size is None or size > QUALITY_MAX_BYTES:
            raise InvalidInput(
                f"quality must be finite JSON of at most {QUALITY_MAX_BYTES} bytes",
                field="quality",
            )
    if depth > QUALITY_MAX_DEPTH:
        raise InvalidInput(f"quality nests deeper than {QUALITY_MAX_DEPTH}", field="quality")
    if isinstance(quality, bool):
        return
    if isinstance(quality, int) and not -(1 << 63) <= quality < (1 << 64):
        raise InvalidInput("quality holds an integer past 64 bits", field="quality")
    children = quality.values() if isinstance(quality, dict) else quality
    if isinstance(quality, dict | list):
        for child in children:
            _check_quality(child, depth + 1)


def queue_depth(store: Store, engines: list[str]) -> dict[str, int]:
    """Queued plus running tasks per engine; every engine clients may name is there, 0 when
    it has no work, so an autoscaler reading one finds a number rather than nothing."""
    return dict.fromkeys(engines, 0) | store.queue_depth()


class RemoteWork:
    def __init__(self, store: Store, blobs: Blobs, *, max_lease_seconds: float):
        self.store = store
        self.blobs = blobs
        self._max_lease = max_lease_seconds

    def token(self, bearer: str | None) -> str:
        """The worker token's id for an ``Authorization: Bearer`` secret."""
        token_id = self.store.worker_for(bearer.strip()) if bearer else None
        if token_id is None:
            raise Unauthorized("send a worker token as 'Authorization: Bearer tsw_…'")
        return token_id

    def queue_depth(self, engines: list[str]) -> dict[str, int]:
        return queue_depth(self.store, engines)

    def _lease(self, seconds: float) -> float:
        return min(self._max_lease, seconds)  # above 0: the wire model says so

    def claim(self, owner: str, engines: list[str], lease_seconds: float) -> Task | None:
        return self.store.claim(owner, engines, self._lease(lease_seconds))

    def heartbeat(
        self, task_id: str, owner: str, progress: float | None, lease_seconds: float
    ) -> Heartbeat:
        return self.store.heartbeat(task_id, owner, progress, self._lease(lease_seconds))

    def finish(
        self,
        task_id: str,
        owner: str,
        status: TaskStatus,
        *,
        result_key: str | None,
        quality: dict[str, Any] | None,
        error: ErrorInfo | None,
    ) -> bool:
        if not status.is_terminal():
            raise InvalidInput("finish needs a terminal status", field="status")
        _check_quality(quality)
        if status is TaskStatus.COMPLETED and result_key is None:  # polls would show no image
            raise InvalidInput(
                "a completed task needs the result_key of its upload", field="result_key"
            )
        if result_key is not None:
            held, issued = self.store.upload_for(task_id, owner)
            if held and result_key != issued:
                raise InvalidInput(
                    "result_key is not the name this task's upload was given: ask "
                    f"POST /worker/tasks/{task_id}/upload for one",
                    field="result_key",
                )
        return self.store.finish(
            task_id, owner, status, result_key=result_key, quality=quality, error=error
        )

    def release(self, task_id: str, owner: str) -> bool:
        return self.store.release(task_id, owner)

    def input(self, key: str) -> bytes:
        """An input of a task still to run; nothing else."""
        if not is_input_key(key) or self.store.unreferenced([key]):
            raise NotFound("no such input")
        try:
            return self.blobs.get_input(key)
        except FileNotFoundError:
            raise NotFound("no such input") from None

    def upload(self, task_id: str, owner: str) -> dict[str, str | None]:
        """A fresh result name for the task this worker holds, and with S3 a presigned PUT
        URL for it (the image then goes straight to the bucket)."""
        name = new_result_name()
        if not self.store.issue_upload(task_id, owner, name):
            raise NotFound(f"task {task_id!r} is not running under this worker's lease")
        presign = getattr(self.blobs, "presigned_result_upload", None)
        url = presign(name, UPLOAD_URL_SECONDS) if presign is not None else None
        return {"name": name, "url": url}

    def _own_upload(self, token_id: str, name: str) -> None:
        holder = self.store.upload_holder(name) if is_result_name(name) else None
        if holder is None or not holder.startswith(f"{token_id}/"):
            raise NotFound(f"no upload {name!r} for a task of this worker token")

    def put_result(self, token_id: str, name: str, data: bytes) -> None:
        self._own_upload(token_id, name)
        if not data.startswith(b"\xff\xd8"):  # served as image/jpeg: a JPEG, or nothing
            raise InvalidInput("a result is a JPEG image: its body must start with FF D8")
        self.blobs.put_result(name, data)

    def delete_result(self, token_id: str, name: str) -> None:
        self._own_upload(token_id, name)
        self.blobs.delete_result(name)
