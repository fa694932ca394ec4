"""k-means centroids (scikit-learn's MiniBatchKMeans) with progress bars: the BoVW vocabulary and the
triangle features' centroids take minutes on full collections."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
from tqdm.auto import tqdm

_INIT = re.compile(r"Init \d+/(\d+)")
_INIT_DONE = re.compile(r"Inertia for init \d+/(\d+)")
_STEP = re.compile(r"Minibatch step (\d+)/(\d+)")


class _VerboseToBars(io.TextIOBase):
    """Stands in for stdout while MiniBatchKMeans runs verbose: one progress bar for its k-means++ starts,
    then one for its mini-batch steps, moved by its lines."""

    def __init__(self, desc: str):
        self.desc, self.bar = desc, None

    def writable(self) -> bool:
        return True

    def _phase(self, phase: str, total: int, unit: str) -> tqdm:
        if self.bar is None or self.bar.unit != unit:
            self.close()
            self.bar = tqdm(total=total, desc=f"{self.desc}: {phase}", unit=unit, mininterval=0.5)
        return self.bar

    def write(self, text: str) -> int:
        if match := _STEP.search(text):
            bar = self._phase("mini-batch steps", int(match[2]), "step")
            bar.update(int(match[1]) - bar.n)
        elif match := _INIT.search(text):
            self._phase("k-means++ starts", int(match[1]), "start")
        elif match := _INIT_DONE.search(text):
            self._phase("k-means++ starts", int(match[1]), "start").update(1)
        return len(text)

    def close(self) -> None:
        """Ends the bar shown: where early stopping ended the steps, the bar ends there."""
        if self.bar is not None:
            self.bar.total = self.bar.n
            self.bar.close()
            self.bar = None


def kmeans_centroids(data: np.ndarray, k: int, desc: str, seed: int = 0, progress: bool = False,
                     **params) -> np.ndarray:
    """(k, d) float32 centroids of the (n, d) rows of `data` by MiniBatchKMeans(`params`), seeded.

    With `progress`, bars follow its k-means++ starts and its mini-batch steps (up to the most the run may
    take; early stopping ends the bar). The result is the same with or without them."""
    from sklearn.cluster import MiniBatchKMeans

    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, verbose=int(progress), **params)
    if not progress:
        return kmeans.fit(data).cluster_centers_.astype(np.float32)
    with contextlib.closing(_VerboseToBars(desc)) as bars, contextlib.redirect_stdout(bars):
        kmeans.fit(data)
    return kmeans.cluster_centers_.astype(np.float32)
