"""What an extractor computed for the query images it described last, by their pixels: the page names the class of
the image it has just searched with from that search's own forward pass, instead of running the network again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from cbir.metadata import pixel_digest

SIZE = 64  # images kept: a server's requests in flight, and more


class Recent:
    """A small, thread-safe memory of rows computed for images (oldest forgotten first); pickled empty."""

    def __init__(self):
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, images: Sequence[np.ndarray], rows: np.ndarray) -> None:
        keys = [pixel_digest(image) for image in images]
        with self._lock:
            for key, row in zip(keys, rows):
                self._rows[key] = row
                self._rows.move_to_end(key)
            while len(self._rows) > SIZE:
                self._rows.popitem(last=False)

    def get(self, images: Sequence[np.ndarray]) -> np.ndarray | None:
        """The rows kept for all these images, or None when any is not kept."""
        keys = [pixel_digest(image) for image in images]
        with self._lock:
            rows = [self._rows.get(key) for key in keys]
        return None if any(row is None for row in rows) else np.stack(rows)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
