"""Bag of Visual Words: SIFT descriptors -> k-means vocabulary -> TF-IDF histograms with a spatial pyramid.

The classic pipeline: hard assignment of every descriptor to its nearest visual word,
one histogram for the whole image plus one per 2x2 quadrant, TF-IDF weighting (IDF
learned on the training images), square-root (power 0.5) and L2 normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cbir.datasets.collection import Dataset
from cbir.errors import FitError
from cbir.features.base import FeatureExtractor
from cbir.features.kmeans import kmeans_centroids
from cbir.features.local import SiftConfig, describe_parallel


def fit_vocabulary(descriptors: np.ndarray, k: int, seed: int = 0, progress: bool = False) -> np.ndarray:
    """k visual words (float32 centroids) from MiniBatchKMeans on a sample of descriptors."""
    if len(descriptors) < k:
        raise FitError(f"{len(descriptors)} descriptors cannot make a vocabulary of {k} words: use more images "
                       f"or a smaller vocabulary (cbir index --set k=N)")
    return kmeans_centroids(descriptors, k, f"vocabulary of {k} words", seed, progress, batch_size=4096, n_init=3,
                            max_no_improvement=20)


def nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (L2) for each row."""
    import faiss

    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    return index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)[1][:, 0]


class SiftBoVW(FeatureExtractor):
    """Dense (or detected) RootSIFT, a `k`-word vocabulary, TF-IDF histograms over a 1x1 + 2x2 pyramid."""

    kind = "sift-bovw"
    trainable = True

    def __init__(self, k: int = 1000, sampling: str = "dense", step: int = 4, patch: int = 8, upscale: int = 2,
                 rootsift: bool = True, pyramid: bool = True, tfidf: bool = True, power: float = 0.5,
                 sample_images: int = 10_000, sample_descriptors: int = 200_000, seed: int = 0,
                 n_jobs: int | None = None, name: str | None = None):
        if not 2 <= k <= 100_000:
            raise ValueError(f"vocabulary size k must be between 2 and 100000, not {k}")
        super().__init__(name)
        self.sift = SiftConfig(sampling, step, patch, upscale, rootsift)
        self.k, self.pyramid, self.tfidf, self.power = k, pyramid, tfidf, power
        self.sample_images, self.sample_descriptors, self.seed, self.n_jobs = (
            sample_images, sample_descriptors, seed, n_jobs)

    @property
    def dim(self) -> int:
        return self.k * (5 if self.pyramid else 1)

    def get_config(self) -> dict:
        return {**self.sift.to_dict(), "k": self.k, "pyramid": self.pyramid, "tfidf": self.tfidf,
                "power": self.power, "sample_images": self.sample_images,
                "sample_descriptors": self.sample_descriptors, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict, name: str | None = None) -> SiftBoVW:
        return cls(**config, name=name)

    def _fit(self, dataset: Dataset, progress: bool) -> None:
        rng = np.random.default_rng(self.seed)
        picked = np.sort(rng.permutation(len(dataset))[: self.sample_images])
        described = describe_parallel(dataset.subset(picked).images, self.sift, self.n_jobs, progress=progress)
        pool = np.concatenate([d for d, _ in described])
        sample = pool[rng.permutation(len(pool))[: self.sample_descriptors]]
        self.vocabulary_ = fit_vocabulary(sample, self.k, self.seed, progress)
        self.learn_idf(described)

    def learn_idf(self, described: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Inverse document frequency of each word over the training images (all ones without `tfidf`)."""
        self.idf_ = np.ones(self.k, np.float32)
        if self.tfidf:
            counts = self._counts(described)[:, : self.k]
            document_frequency = (counts > 0).sum(axis=0)
            self.idf_ = np.log((1 + len(counts)) / (1 + document_frequency)).astype(np.float32) + 1

    def _counts(self, described: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Per image: word counts of the whole image, then of each 2x2 quadrant (when `pyramid`)."""
        n, k = len(described), self.k
        sizes = np.array([len(d) for d, _ in described])
        if sizes.sum() == 0:
            return np.zeros((n, self.dim), np.float32)
        words = nearest(np.concatenate([d for d, _ in described]), self.vocabulary_).astype(np.int64)
        owner = np.repeat(np.arange(n), sizes)
        indices = [owner * self.dim + words]
        if self.pyramid:
            pos = np.concatenate([p for _, p in described])
            cell = (pos[:, 1] * 2).astype(np.int64) * 2 + (pos[:, 0] * 2).astype(np.int64)
            indices.append(owner * self.dim + k * (1 + cell) + words)
        counts = np.bincount(np.concatenate(indices), minlength=n * self.dim)
        return counts.reshape(n, self.dim).astype(np.float32)

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._weighted(self._counts(describe_parallel(images, self.sift, self.n_jobs)))

    def _weighted(self, counts: np.ndarray) -> np.ndarray:
        """Term frequencies (per image), times IDF, raised to `power`."""
        sizes = counts[:, : self.k].sum(axis=1, keepdims=True)
        tf = counts / np.maximum(sizes, 1)
        weighted = tf * np.tile(self.idf_, self.dim // self.k)
        return np.power(weighted, self.power) if self.power != 1 else weighted

    def _save_state(self, path: Path) -> None:
        np.save(path / "vocabulary.npy", self.vocabulary_)
        np.save(path / "idf.npy", self.idf_)

    def _load_state(self, path: Path) -> None:
        self.vocabulary_ = np.load(path / "vocabulary.npy")
        self.idf_ = np.load(path / "idf.npy")
