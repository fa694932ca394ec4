"""Models that keep state between calls (dlib's networks, RapidOCR's pipeline), lent to one thread at a time: as many
are made as threads ever used them at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class Pool(Generic[T]):
    """Models made by `make` when none is free, each lent to one thread at a time (`lent`)."""

    def __init__(self, make: Callable[[], T]):
        self._make, self._lock = make, threading.Lock()
        self.free: list[T] = []  # the models made and given back: lent again before another is made

    @contextmanager
    def lent(self) -> Iterator[T]:
        with self._lock:
            model = self.free.pop() if self.free else None
        if model is None:
            model = self._make()
        try:
            yield model
        finally:
            with self._lock:
                self.free.append(model)
