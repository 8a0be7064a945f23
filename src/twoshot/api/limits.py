"""A cap on request bodies, enforced while they stream in (uploads are spooled otherwise)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twoshot.api.errors import error_response


class BodyTooLarge(HTTPException):
    # an HTTPException, so FastAPI's body parsing lets it through instead of answering 400
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is over {limit // (1024 * 1024)} MB")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                response = error_response(
                    413, "payload_too_large", BodyTooLarge(self.max_bytes).detail
                )
                await response(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)
