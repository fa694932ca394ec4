"""Micro-batching: concurrent single-query searches are grouped into one batched index search.

A flat index streams every stored vector once per search call, so 8 queries searched
together cost little more than one. One worker thread takes whatever requests are
waiting (up to `max_batch`), searches them together, and hands each caller its hits.
Nothing waits on purpose: at low load a batch is a single query.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from cbir.types import Hit

SearchFn = Callable[[np.ndarray, int], list[list[Hit]]]


class MicroBatcher:
    """Serialises searches through one worker thread that batches whatever is queued."""

    def __init__(self, search: SearchFn, max_batch: int = 32):
        self._search, self.max_batch = search, max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock, self._closed = threading.Lock(), False
        self._worker = threading.Thread(target=self._run, name="cbir-micro-batcher", daemon=True)
        self._worker.start()

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Same contract as the wrapped search; blocks until this request's batch is done."""
        future: Future = Future()
        with self._lock:  # a search queued before `close` is still served by the worker
            queued = not self._closed
            if queued:
                self._queue.put((vectors, k, future))
        return future.result() if queued else self._search(vectors, k)

    def close(self) -> None:
        """Stop the worker once the queued searches are done; later searches run unbatched."""
        with self._lock:
            self._closed = True
            self._queue.put(None)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = batch[-1] is None
            if stop:
                batch.pop()
            if batch:
                self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[tuple[np.ndarray, int, Future]]) -> None:
        try:
            hits = self._search(np.concatenate([v for v, _, _ in batch]), max(k for _, k, _ in batch))
        except BaseException as exc:  # hand the failure to every waiting caller
            for _, _, future in batch:
                future.set_exception(exc)
            return
        start = 0
        for vectors, k, future in batch:
            future.set_result([row[:k] for row in hits[start: start + len(vectors)]])
            start += len(vectors)
