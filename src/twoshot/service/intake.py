"""From request images to stored, checked references: fetch, decode, check faces, store.

Each distinct image (by content) is decoded and checked once per request, however many
fields or batch items use it; ``analysed`` counts the analyses, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import anyio.to_thread
from PIL import Image

from twoshot.blobs import Blobs
from twoshot.fetch import Fetcher
from twoshot.images import Limits, decode, encode_jpeg, fit_within
from twoshot.service.requests import ImageInput


class Role(StrEnum):
    REFERENCE = "reference"  # must show one usable face
    POSE = "pose"  # a couple's pose image: people to place
    CONTROL = "control"  # a person's control image: one person to place


class InputChecks(Protocol):
    """The submission-time checks that need eyes; ``twoshot.vision`` provides the real ones."""

    def reference(self, image: Image.Image, field: str) -> None: ...
    def pose(self, image: Image.Image, field: str, people: int) -> None: ...


class InputPolicy(Protocol):
    """The content policy on a picture (``twoshot.safety.InputScreen``): raises to refuse it.
    ``faces_used``: how many of its faces the result will show."""

    def check(self, image: Image.Image, field: str, faces_used: int) -> None: ...


class NoChecks:
    """Accepts every decodable image. For deployments that check faces elsewhere, and tests."""

    def reference(self, image: Image.Image, field: str) -> None:
        return None

    def pose(self, image: Image.Image, field: str, people: int) -> None:
        return None


@dataclass(frozen=True)
class Prepared:
    key: str  # blob key: sha256 of the bytes as received
    data: bytes  # the normalised JPEG that is stored


class Intake:
    def __init__(
        self,
        fetcher: Fetcher,
        blobs: Blobs,
        checks: InputChecks,
        limits: Limits,
        max_side: int = 2048,
        policy: InputPolicy | None = None,
    ):
        self._fetcher = fetcher
        self._blobs = blobs
        self._checks = checks
        self._limits = limits
        self._max_side = max_side
        self._policy = policy
        self.analysed = 0

    async def prepare(self, inputs: Sequence[tuple[ImageInput, Role]]) -> dict[str, Prepared]:
        """Returns field → prepared image, every one checked and stored."""
        urls = {i.field: i.url for i, _ in inputs if i.data is None and i.url is not None}
        fetched = await self._fetcher.fetch_all(urls) if urls else {}
        work: dict[tuple[bytes, Role], str] = {}  # distinct (bytes, role) → first field
        raw: dict[str, bytes] = {}
        for item, role in inputs:
            data = item.data if item.data is not None else fetched[item.url or ""]
            raw[item.field] = data
            work.setdefault((data, role), item.field)
        jobs = list(work.items())
        results = await asyncio.gather(
            *(
                anyio.to_thread.run_sync(self._analyse, data, role, field)
                for (data, role), field in jobs
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        by_content = {
            (data, role): result for ((data, role), _), result in zip(jobs, results, strict=True)
        }
        prepared = {item.field: by_content[(raw[item.field], role)] for item, role in inputs}
        for p in {p.key: p for p in prepared.values()}.values():  # type: ignore[union-attr]
            self.store(p)  # type: ignore[arg-type]
        return prepared  # type: ignore[return-value]

    async def check_url(self, url: str, field: str) -> str:
        return await self._fetcher.check_url(url, field)

    def store(self, prepared: Prepared) -> None:
        self._blobs.put_input(prepared.key, prepared.data)

    def _analyse(self, data: bytes, role: Role, field: str) -> Prepared:
        self.analysed += 1
        decoded = decode(data, self._limits, field)
        image = fit_within(decoded.image, self._max_side)
        if role is Role.REFERENCE:
            self._checks.reference(image, field)
        else:
            self._checks.pose(image, field, people=2 if role is Role.POSE else 1)
        if self._policy is not None:  # refused here, a picture is never stored
            self._policy.check(image, field, faces_used=2 if role is Role.POSE else 1)
        return Prepared(key=decoded.sha256, data=encode_jpeg(image, quality=95))
