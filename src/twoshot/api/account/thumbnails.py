"""Small JPEGs of results for the dashboard's task list."""

from __future__ import annotations

import io
from collections import OrderedDict
from threading import Lock
from typing import Any

from PIL import Image


class Thumbnails:
    """Small JPEGs of results, made on first view and kept in a bounded memory cache."""

    def __init__(self, size: int = 256, capacity: int = 512):
        self.size = size
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._capacity = capacity
        self._lock = Lock()

    def get(self, name: str, load: Any) -> bytes | None:
        with self._lock:
            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
        data = load(name)
        if data is None:
            return None
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (self.size, self.size))  # JPEG: decode at a fraction of the size
            small = image.convert("RGB")
            small.thumbnail((self.size, self.size))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=82)
        thumb = out.getvalue()
        with self._lock:
            self._cache[name] = thumb
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return thumb


THUMBNAILS = Thumbnails()
