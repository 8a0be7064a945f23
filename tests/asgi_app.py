"""The app for any ASGI server, built from the environment (``uvicorn --factory``)."""

from __future__ import annotations

from typing import Any


def app() -> Any:
    from twoshot.api import create_app
    from twoshot.config import Settings
    from twoshot.runtime import Runtime

    return create_app(Runtime.build(Settings()))
