"""The one exception tree of twoshot.

TwoshotError            every domain error; ``code`` is stable, ``field`` names the input at fault
├── InvalidInput        400: missing_field, invalid_field, invalid_index, too_many_items, ...;
│                       the content policy's prompt_refused, unsafe_input, apparent_minor
│   ├── InvalidImage    400 invalid_image: not a decodable JPEG / PNG / WebP
│   ├── FaceRejected    400 no_face_detected, multiple_faces, face_too_small, no_person_detected
│   └── UrlRefused      400 url_not_allowed, fetch_failed
├── PayloadTooLarge     413 payload_too_large: bytes or pixels over the limit
├── Unauthorized        401 unauthorized, sign_in_failed
├── Forbidden           403 csrf_failed, admin_only, metrics_forbidden
├── NotFound            404 not_found
├── Conflict            409 conflict: e.g. an Idempotency-Key reused with another body
├── RateLimited         429 rate_limited, quota_exceeded, queue_full, too_many_sign_ins, busy
└── JobFailed           a task's terminal failure (engine_error, unsafe_content, ...): never
    │                   an HTTP answer
    └── StorageError    storage_error: the result could not be written to the blob store

Only ``twoshot.api`` turns these into HTTP statuses.
"""

from __future__ import annotations


class TwoshotError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidInput(TwoshotError):
    code = "invalid_field"


class InvalidImage(InvalidInput):
    code = "invalid_image"


class FaceRejected(InvalidInput):
    code = "no_face_detected"


class UrlRefused(InvalidInput):
    code = "url_not_allowed"


class PayloadTooLarge(TwoshotError):
    code = "payload_too_large"


class Unauthorized(TwoshotError):
    code = "unauthorized"


class Forbidden(TwoshotError):
    code = "forbidden"


class NotFound(TwoshotError):
    code = "not_found"


class Conflict(TwoshotError):
    code = "conflict"


class RateLimited(TwoshotError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class JobFailed(TwoshotError):
    code = "engine_error"


class StorageError(JobFailed):
    """The engine made the picture, and the blob store refused it (full, read-only, gone):
    the operator's problem, not the engine's, and ``/readyz`` says so too."""

    code = "storage_error"


class Canceled(Exception):
    """Raised inside an engine's progress callback when the task was canceled."""


class LeaseLost(Exception):
    """Raised inside an engine's progress callback when another worker owns the task now."""
