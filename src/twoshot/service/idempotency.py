"""An ``Idempotency-Key`` with the fingerprint of the request it was first sent with."""

from __future__ import annotations

import hashlib

from twoshot.domain import ApiKey
from twoshot.errors import InvalidInput
from twoshot.service.intake import Role
from twoshot.service.requests import ImageInput
from twoshot.store import Idempotency


def idempotency(
    key: ApiKey,
    idempotency_key: str | None,
    route: str,
    engine: str,
    images: list[tuple[ImageInput, Role]],
    options: object,
) -> Idempotency | None:
    if not idempotency_key:
        return None
    if len(idempotency_key) > 255:
        raise InvalidInput("Idempotency-Key is longer than 255 characters", field="Idempotency-Key")
    h = hashlib.sha256(f"{route}\n{engine}\n{options!r}\n".encode())
    for item, role in images:
        h.update(f"{item.field}:{role.value}:".encode())
        h.update(
            hashlib.sha256(item.data).digest()
            if item.data is not None
            else (item.url or "").encode()
        )
    return Idempotency(key.id, idempotency_key, h.hexdigest())
