"""Micro-batching: concurrent single-image requests of a server grouped into batched work.

A CNN describes 8 images together ~2.5x faster per image than one at a time, with the
machine's threads on one batch instead of 8 requests each starting its own; and a flat
index streams every stored vector once per search call, so 8 queries searched together
cost little more than one. One worker thread takes whatever requests are waiting (up to
`max_batch`), runs them together (`Engine`: describe the images, then search), and hands
each caller its share. Nothing waits on purpose: at low load a batch is one request.

An engine with copies has two networks: they describe a batch at once, each on one core (the copies' in a thread
of its own), instead of one after the other on all cores, whose many small operations each wake a sleeping
thread (docs/results/serving.md).
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Generic, TypeVar

import numpy as np

Request = TypeVar("Request")
Answer = TypeVar("Answer")


class MicroBatcher(Generic[Request, Answer]):
    """Runs `run(requests) -> answers` (one answer per request, in order) in one worker thread on whatever
    requests are queued."""

    def __init__(self, run: Callable[[Sequence[Request]], Sequence[Answer]], max_batch: int = 32,
                 name: str = "cbir-micro-batcher"):
        self._run_requests, self.max_batch = run, max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock, self._closed = threading.Lock(), False
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._worker.start()

    def submit(self, request: Request) -> Answer:
        """This request's answer, once its batch is done (the batch's failure is raised here too)."""
        future: Future = Future()
        with self._lock:  # a request queued before `close` is still served by the worker
            queued = not self._closed
            if queued:
                self._queue.put((request, future))
        return future.result() if queued else self._run_requests([request])[0]

    def close(self) -> None:
        """Stop the worker once the queued requests are done; later requests run unbatched."""
        with self._lock:
            self._closed = True
            self._queue.put(None)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a closed batcher's worker to end; True when it has."""
        self._worker.join(timeout)
        return not self._worker.is_alive()

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

    def _run_batch(self, batch: list[tuple[Request, Future]]) -> None:
        try:
            answers = self._run_requests([request for request, _ in batch])
        except BaseException as exc:  # hand the failure to every waiting caller
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), answer in zip(batch, answers):
            future.set_result(answer)


def search_batch(engine, requests: Sequence[tuple]) -> list[tuple[list, list | None]]:
    """An `Engine`'s batch (`Engine.enable_micro_batching`). Each request: (its query images, or their vectors when
    described in the caller's thread; k; the ids to exclude or None). Each answer: (its hits; its best matches in
    the copies' engine, at least two, for `Engine.copies_among` — or None when they are not searched here)."""
    queries = [query for query, _, _ in requests]
    k = max(k for _, k, _ in requests)
    images = [image for images in queries for image in images] if engine.extractor.batch_describes else None
    pending = None
    if images is not None and engine.copies is not None:
        excluded = [id_ for query, _, exclude in requests for id_ in (exclude or [None] * len(query))]
        pending = meanwhile(lambda: [result.hits for result in engine.copies.search(images, max(k, 2),
                                                                                    exclude=excluded)])
    if images is not None:
        network_threads(1 if pending is not None else None)
    vectors = engine.extractor.transform(images) if images is not None else np.concatenate(queries)
    hits = engine.index.search(vectors, k)
    copies = pending.result() if pending is not None else None
    ends = np.cumsum([len(query) for query in queries])
    return [([row[:k] for row in hits[end - len(query): end]],
             None if copies is None else [row[:max(k, 2)] for row in copies[end - len(query): end]])
            for query, (_, k, _), end in zip(queries, requests, ends)]


def meanwhile(run: Callable[[], Answer]) -> Future:
    """`run()` started in the process's copies thread (its PyTorch work on one thread); its result or error in the
    future."""
    return _copies_thread().submit(run)


@cache
def _copies_thread() -> ThreadPoolExecutor:
    """One thread for the copies' network, kept for the process (a new thread each batch would leave each of its
    memory arenas behind)."""
    return ThreadPoolExecutor(1, thread_name_prefix="cbir-copies", initializer=network_threads, initargs=(1,))


@cache
def _default_threads() -> int:
    """PyTorch's own number of threads, before `network_threads` first changes it."""
    return sys.modules["torch"].get_num_threads()


def network_threads(count: int | None) -> None:
    """Let this thread's PyTorch work use `count` threads (None: PyTorch's default), when PyTorch is loaded (each
    thread has its own setting; new threads start from the last one set)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    default = _default_threads()  # read before the first change, whichever thread makes it
    count = count or default
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
