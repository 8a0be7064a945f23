"""A worker's view of a twoshot server over HTTP: the queue and the blobs it needs.

``twoshot worker --server URL --token tsw_…`` runs the usual worker loop with these instead
of the database and the blob store, so GPU machines anywhere need only the server's URL.
If the network goes, heartbeats fail, the lease expires, and another worker takes the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from twoshot.domain import ErrorInfo, Task, TaskStatus, task_from_wire
from twoshot.store import Heartbeat


class RemoteQueue:
    def __init__(
        self,
        server: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: Any = None,
        client: Any = None,
    ):
        """``client``, if given, is used as it is (its base URL and headers set here): the
        contract tests pass Starlette's ``TestClient`` to run against an app in-process."""
        self._http: httpx.Client = client or httpx.Client(timeout=timeout, transport=transport)
        self._http.base_url = server.rstrip("/")
        self._http.headers["Authorization"] = f"Bearer {token}"
        # presigned URLs of uploads asked for and not yet made: result name → PUT URL
        self._upload_urls: dict[str, str] = {}

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self._http.post(path, json=body)
        if r.status_code == 400:  # what the store raises as ValueError, the server answers 400
            raise ValueError(r.json().get("error", {}).get("message", r.text))
        r.raise_for_status()
        return dict(r.json())

    def claim(self, owner: str, engines: Sequence[str], lease_seconds: float) -> Task | None:
        data = self._post(
            "/worker/claim",
            {"owner": owner, "engines": list(engines), "lease_seconds": lease_seconds},
        )
        return None if data["task"] is None else task_from_wire(data["task"])

    def heartbeat(
        self, task_id: str, owner: str, progress: float | None, lease_seconds: float
    ) -> Heartbeat:
        data = self._post(
            f"/worker/tasks/{task_id}/heartbeat",
            {"owner": owner, "progress": progress, "lease_seconds": lease_seconds},
        )
        return Heartbeat(ours=data["ours"], cancel_requested=data["cancel_requested"])

    def finish(
        self,
        task_id: str,
        owner: str,
        status: TaskStatus,
        *,
        result_key: str | None = None,
        quality: dict | None = None,
        error: ErrorInfo | None = None,
    ) -> bool:
        body = {
            "owner": owner,
            "status": status.value,
            "result_key": result_key,
            "quality": quality,
            "error": {"code": error.code, "message": error.message} if error else None,
        }
        return bool(self._post(f"/worker/tasks/{task_id}/finish", body)["finished"])

    def release(self, task_id: str, owner: str) -> bool:
        return bool(self._post(f"/worker/tasks/{task_id}/release", {"owner": owner})["released"])

    # the blobs a worker needs

    def get_input(self, key: str) -> bytes:
        r = self._http.get(f"/worker/inputs/{key}")
        if r.status_code == 404:
            raise FileNotFoundError(key)
        r.raise_for_status()
        return r.content

    def result_name(self, task_id: str, owner: str) -> str:
        """The name the server gives this upload of the task's result (with S3, also the
        presigned URL to PUT it to, minted now: a long run cannot outlive it)."""
        upload = self._post(f"/worker/tasks/{task_id}/upload", {"owner": owner})
        if upload.get("url"):
            self._upload_urls[upload["name"]] = upload["url"]
        return str(upload["name"])

    def put_result(self, name: str, data: bytes) -> None:
        url = self._upload_urls.pop(name, None)
        if url is None:  # local files on the server: through the API
            self._http.put(f"/worker/results/{name}", content=data).raise_for_status()
            return
        # straight to the bucket, with no credentials of ours (the URL is the permission)
        r = httpx.put(url, content=data, headers={"Content-Type": "image/jpeg"}, timeout=60)
        r.raise_for_status()

    def delete_result(self, name: str) -> None:
        """Delete an upload whose task we still hold. Once the lease is gone the server
        refuses (404), and its sweep deletes the file as one no task points to."""
        r = self._http.delete(f"/worker/results/{name}")
        if r.status_code != 404:
            r.raise_for_status()
