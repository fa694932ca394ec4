"""Coates, Lee & Ng (2011): k-means on whitened patches, "triangle" soft assignment, quadrant pooling.

Every `patch` x `patch` colour patch (stride `stride`) is brightness/contrast-normalised
and ZCA-whitened; its code is f_k = max(0, mean(z) - z_k) with z_k the distance to
centroid k. Codes are summed over the four image quadrants (4 x k values), then
standardised, reduced by PCA (optionally whitened), and power-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.datasets.images import resize_all
from cbir.errors import FitError
from cbir.features.base import FeatureExtractor, check_pca
from cbir.features.kmeans import kmeans_centroids


def patches_of(images: np.ndarray, size: int, stride: int) -> np.ndarray:
    """(n, rows, cols, size*size*3) float32 patches of (n, H, W, 3) images."""
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]  # (n, rows, cols, 3, size, size)
    n, rows, cols = windows.shape[:3]
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(n, rows, cols, -1).astype(np.float32)


def normalise_patches(p: np.ndarray) -> np.ndarray:
    """Subtract each patch's mean, divide by its standard deviation (+10 in 0-255 units, as in the paper)."""
    p = p - p.mean(axis=-1, keepdims=True)
    p /= np.sqrt(p.var(axis=-1, keepdims=True) + 10.0)
    return p


class KMeansTriangle(FeatureExtractor):
    """Single-layer unsupervised features (Coates-Ng) on images resized to `size` x `size`."""

    kind = "kmeans-triangle"
    trainable = True

    def __init__(self, k: int = 1600, patch: int = 6, stride: int = 1, size: int = 32, pca: int | None = 512,
                 whiten: bool = False, power: float = 0.5, sample_patches: int = 400_000, seed: int = 0,
                 name: str | None = None):
        check_pca(pca, 4 * k)  # the pooled dimension
        super().__init__(name)
        self.k, self.patch, self.stride, self.size = k, patch, stride, size
        self.pca, self.whiten, self.power, self.sample_patches, self.seed = pca, whiten, power, sample_patches, seed

    @property
    def dim(self) -> int:
        return self.pca or 4 * self.k

    def get_config(self) -> dict:
        return {"k": self.k, "patch": self.patch, "stride": self.stride, "size": self.size, "pca": self.pca,
                "whiten": self.whiten, "power": self.power, "sample_patches": self.sample_patches, "seed": self.seed}

    def _images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return resize_all(images, (self.size, self.size))

    def _fit(self, dataset: Dataset, progress: bool) -> None:
        rng = np.random.default_rng(self.seed)
        per_image = max(1, -(-self.sample_patches // len(dataset)))
        picked = np.sort(rng.permutation(len(dataset))[: -(-self.sample_patches // per_image)])
        chunks = []
        for start in range(0, len(picked), 500):  # never hold every patch of every image at once
            grid = patches_of(self._images([dataset.images[i] for i in picked[start: start + 500]]), self.patch, 1)
            n, rows, cols, d = grid.shape
            ys, xs = rng.integers(0, rows, (n, per_image)), rng.integers(0, cols, (n, per_image))
            chunks.append(grid[np.arange(n)[:, None], ys, xs].reshape(-1, d))
        sample = normalise_patches(np.concatenate(chunks))
        self.mean_ = sample.mean(axis=0)
        eigval, eigvec = np.linalg.eigh(np.cov(sample - self.mean_, rowvar=False))
        self.zca_ = (eigvec @ np.diag(1.0 / np.sqrt(eigval + 0.1)) @ eigvec.T).astype(np.float32)
        whitened = (sample - self.mean_) @ self.zca_
        self.centroids_ = kmeans_centroids(whitened, self.k, f"{self.k} patch centroids", self.seed, progress,
                                           batch_size=8192, n_init=1, max_iter=50)
        self.pooled_mean_, self.pooled_std_ = np.zeros(4 * self.k, np.float32), np.ones(4 * self.k, np.float32)
        self.components_ = None
        if self.pca and self.pca > min(len(dataset), 20_000):
            raise FitError(f"PCA to {self.pca} dimensions needs at least {self.pca} training images, got "
                           f"{len(dataset)}: use more images or fewer dimensions (cbir index --set pca=N)")
        if self.pca:
            sample_images = picked[:20_000]
            train = np.concatenate([self._pooled(self._images([dataset.images[i] for i in sample_images[s: s + 256]]))
                                    for s in tqdm(range(0, len(sample_images), 256), desc="triangle PCA sample",
                                                  disable=not progress)])
            self.pooled_mean_ = train.mean(axis=0)
            self.pooled_std_ = train.std(axis=0) + 1e-3
            standard = (train - self.pooled_mean_) / self.pooled_std_
            _, singular, vt = np.linalg.svd(standard, full_matrices=False)
            scale = 1.0 / (singular[: self.pca] / np.sqrt(len(standard)) + 1e-3) if self.whiten else 1.0
            self.components_ = (vt[: self.pca].T * scale).astype(np.float32)

    def _pooled(self, images: np.ndarray) -> np.ndarray:
        """(n, 4k) triangle codes summed over the four quadrants."""
        grid = normalise_patches(patches_of(images, self.patch, self.stride))
        n, rows, cols, d = grid.shape
        x = (grid.reshape(-1, d) - self.mean_) @ self.zca_
        dist = x @ self.centroids_.T
        dist *= -2
        dist += (x * x).sum(axis=1, keepdims=True)
        dist += (self.centroids_ * self.centroids_).sum(axis=1)
        np.maximum(dist, 0, out=dist)
        np.sqrt(dist, out=dist)
        mean = dist.mean(axis=1, keepdims=True)
        np.subtract(mean, dist, out=dist)
        np.maximum(dist, 0, out=dist)
        codes = dist.reshape(n, rows, cols, self.k)
        r, c = rows // 2, cols // 2
        quadrants = [codes[:, :r, :c], codes[:, :r, c:], codes[:, r:, :c], codes[:, r:, c:]]
        return np.concatenate([q.sum(axis=(1, 2)) for q in quadrants], axis=1)

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        images = self._images(images)
        pooled = np.concatenate([self._pooled(images[s: s + 64]) for s in range(0, len(images), 64)])
        features = (pooled - self.pooled_mean_) / self.pooled_std_
        if self.components_ is not None:
            features = features @ self.components_
        return np.sign(features) * np.abs(features) ** self.power if self.power != 1 else features

    def _save_state(self, path: Path) -> None:
        arrays = {"mean": self.mean_, "zca": self.zca_, "centroids": self.centroids_,
                  "pooled_mean": self.pooled_mean_, "pooled_std": self.pooled_std_}
        if self.components_ is not None:
            arrays["components"] = self.components_
        np.savez(path / "triangle.npz", **arrays)

    def _load_state(self, path: Path) -> None:
        with np.load(path / "triangle.npz") as arrays:
            self.mean_, self.zca_, self.centroids_ = arrays["mean"], arrays["zca"], arrays["centroids"]
            self.pooled_mean_, self.pooled_std_ = arrays["pooled_mean"], arrays["pooled_std"]
            self.components_ = arrays["components"] if "components" in arrays else None
