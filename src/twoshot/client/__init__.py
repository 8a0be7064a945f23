"""A small typed client for a twoshot server (or the hosted API it implements).

    from twoshot.client import Client
    with Client("http://127.0.0.1:8000", api_key="ts_…") as c:
        result = c.wait(c.couple("male.jpg", "female.jpg", prompt="at the beach"))
        Path("out.jpg").write_bytes(c.download(result))

``AsyncClient`` has the same methods, awaitable. Images are paths, bytes, or http(s) URLs.
The key defaults to ``TWOSHOT_API_KEY``. Errors raise ``ApiError`` with the server's code.
"""

from twoshot.client.asynchronous import AsyncClient
from twoshot.client.sync import Client
from twoshot.client.wire import ApiError, TaskResult
from twoshot.client.wire import _Stream as _Stream  # the tests break its stream

__all__ = ["ApiError", "AsyncClient", "Client", "TaskResult"]
