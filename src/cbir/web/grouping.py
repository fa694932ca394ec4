"""Duplicates found for the page and the API in a thread of their own: a request waits a little for the groups, and
otherwise answers with how far the grouping has got (grouping 50,000 images takes minutes)."""

from __future__ import annotations

import threading
import time

RETRY_S = 2  # how soon a client still waiting for groups asks again (the API's Retry-After, the page's reload)


class Grouping:
    """One engine's duplicates at one threshold, being found (`cbir.duplicates.find_duplicates`) one grouping at a
    time (`slot`); `compared` of `pictures` (distinct ones) tells how far it has got, `groups` (or `error`) what it
    found."""

    def __init__(self, engine, threshold: float | None, exact_only: bool, slot: threading.Lock):
        self.compared, self.pictures = 0, len(engine)  # until the grouping knows how many are distinct
        self.groups: list | None = None
        self.error: Exception | None = None
        self.seconds = 0.0
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(engine, threshold, exact_only, slot), name="cbir-duplicates",
                         daemon=True).start()

    def _run(self, engine, threshold: float | None, exact_only: bool, slot: threading.Lock) -> None:
        from cbir import duplicates

        with slot:
            started = time.perf_counter()
            try:
                self.groups = duplicates.find_duplicates(engine, threshold, exact_only, report=self._compared)
            except Exception as exc:  # noqa: BLE001 - handed to the requests that wait for it
                self.error = exc
            finally:
                self.seconds = time.perf_counter() - started
                self._done.set()

    def _compared(self, count: int, pictures: int) -> None:
        self.compared, self.pictures = count, pictures

    def wait(self, seconds: float | None) -> None:
        """Wait until the groups are found, or at most `seconds` (None: as long as it takes)."""
        self._done.wait(seconds)
