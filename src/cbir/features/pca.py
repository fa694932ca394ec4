"""A PCA (optionally whitening) fitted on a collection's vectors, saved beside an extractor's other state."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE = 20_000  # vectors the covariance is estimated from: a 50,000 x 1,280 matrix needs no more


class Pca:
    """Centres vectors and projects them on their `k` main axes; `whiten` also scales each axis to unit variance
    (Jégou & Chum, 2012: co-occurring, bursty dimensions stop dominating the similarity)."""

    def __init__(self, mean: np.ndarray, components: np.ndarray):
        self.mean, self.components = mean.astype(np.float32), components.astype(np.float32)

    @classmethod
    def fit(cls, vectors: np.ndarray, k: int, whiten: bool = False, seed: int = 0) -> Pca:
        """The top `k` axes of the vectors' covariance (from up to `SAMPLE` of them)."""
        from scipy.linalg import eigh

        sample = vectors[np.random.default_rng(seed).permutation(len(vectors))[:SAMPLE]].astype(np.float64)
        mean = sample.mean(axis=0)
        sample -= mean
        d = sample.shape[1]
        values, axes = eigh(sample.T @ sample / max(len(sample) - 1, 1), subset_by_index=[d - k, d - 1])
        values, axes = values[::-1], axes[:, ::-1]
        if whiten:
            axes = axes / np.sqrt(np.maximum(values, 0) + 1e-6 * max(values[0], 1e-12))
        return cls(mean, axes)

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        return (vectors - self.mean) @ self.components

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, components=self.components)

    @classmethod
    def load(cls, path: Path) -> Pca | None:
        """The PCA saved at `path`, or None when there is none."""
        if not path.exists():
            return None
        with np.load(path) as arrays:
            return cls(arrays["mean"], arrays["components"])
