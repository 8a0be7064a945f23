"""Blobs in an S3-compatible bucket (AWS S3, MinIO, R2, …) with boto3.

Inputs live under ``{prefix}inputs/``, results under ``{prefix}results/``. Results can be
handed out as expiring presigned URLs (``GET /results/{name}`` redirects there) instead of
being proxied through the API. Credentials come from the usual AWS variables or files.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

from twoshot.blobs import is_input_key, is_result_name


class S3Blobs:
    def __init__(
        self, bucket: str, *, prefix: str = "", client: Any = None, endpoint_url: str | None = None
    ):
        import boto3

        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._s3 = client or boto3.client("s3", endpoint_url=endpoint_url)

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None) -> S3Blobs:
        """``s3://bucket/optional/prefix``"""
        if not url.startswith("s3://"):
            raise ValueError(f"not an s3:// URL: {url!r}")
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return cls(bucket, prefix=prefix, endpoint_url=endpoint_url)

    def _input(self, key: str) -> str:
        if not is_input_key(key):
            raise ValueError(f"not an input key: {key!r}")
        return f"{self._prefix}inputs/{key}.jpg"

    def _result(self, name: str) -> str:
        if not is_result_name(name):
            raise ValueError(f"not a result name: {name!r}")
        return f"{self._prefix}results/{name}"

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("NoSuchKey", "404", "NotFound")

    def put_input(self, key: str, data: bytes) -> None:
        # content-addressed: rewriting the same bytes also refreshes the age the sweeper reads
        self._s3.put_object(
            Bucket=self._bucket, Key=self._input(key), Body=data, ContentType="image/jpeg"
        )

    def get_input(self, key: str) -> bytes:
        try:
            return bytes(
                self._s3.get_object(Bucket=self._bucket, Key=self._input(key))["Body"].read()
            )
        except Exception as exc:
            if self._missing(exc):
                raise FileNotFoundError(key) from None
            raise

    def delete_input(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=self._input(key))

    def input_ages(self) -> Iterator[tuple[str, float]]:
        now = time.time()
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{self._prefix}inputs/"
        )
        for page in pages:
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1].removesuffix(".jpg")
                yield name, now - obj["LastModified"].timestamp()

    def check_writable(self) -> None:
        """Write and remove a small object under the prefix (credentials, bucket policy)."""
        key = f"{self._prefix}probe/{secrets.token_hex(8)}"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=b"probe")
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def put_result(self, name: str, data: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=self._result(name), Body=data, ContentType="image/jpeg"
        )

    def get_result(self, name: str) -> bytes | None:
        try:
            return bytes(
                self._s3.get_object(Bucket=self._bucket, Key=self._result(name))["Body"].read()
            )
        except ValueError:
            return None
        except Exception as exc:
            if self._missing(exc):
                return None
            raise

    def delete_result(self, name: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=self._result(name))

    def result_ages(self) -> Iterator[tuple[str, float]]:
        now = time.time()
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{self._prefix}results/"
        )
        for page in pages:
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if is_result_name(name):
                    yield name, now - obj["LastModified"].timestamp()

    def presigned_result_upload(self, name: str, seconds: int) -> str:
        """A URL that lets its holder PUT this one result (``Content-Type: image/jpeg``)."""
        return str(
            self._s3.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": self._result(name),
                    "ContentType": "image/jpeg",
                },
                ExpiresIn=seconds,
            )
        )

    def presigned_result(self, name: str, seconds: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": self._result(name)},
                ExpiresIn=seconds,
            )
        )
