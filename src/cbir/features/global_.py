"""Global descriptors with no learned state: colour histograms (GCH) and HOG."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbir.datasets.images import resize_to
from cbir.features.base import FeatureExtractor

_GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ColorHistogram(FeatureExtractor):
    """GCH: a global histogram of gray levels (`space="gray"`) or of joint RGB colours (`space="rgb"`).

    `bins` is per channel (an RGB histogram has bins**3 entries). With `sqrt=True`
    the histogram is square-rooted (Hellinger), so cosine similarity compares
    distributions rather than their largest bins.
    """

    kind = "gch"

    def __init__(self, bins: int = 64, space: str = "gray", sqrt: bool = True, name: str | None = None):
        if space not in ("gray", "rgb"):
            raise ValueError(f"GCH space must be 'gray' or 'rgb', not {space!r}")
        if not 2 <= bins <= 256:
            raise ValueError(f"GCH bins must be between 2 and 256, not {bins}")
        super().__init__(name)
        self.bins, self.space, self.sqrt = bins, space, sqrt

    @property
    def dim(self) -> int:
        return self.bins if self.space == "gray" else self.bins ** 3

    def get_config(self) -> dict:
        return {"bins": self.bins, "space": self.space, "sqrt": self.sqrt}

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self._histogram(np.asarray(im)) for im in images])

    def _histogram(self, image: np.ndarray) -> np.ndarray:
        if self.space == "gray":
            codes = (image.astype(np.float32) @ _GRAY_WEIGHTS * (self.bins / 256.0)).astype(np.int64)
            codes = np.minimum(codes, self.bins - 1)
        else:
            q = (image.astype(np.int64) * self.bins) >> 8
            codes = (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]
        hist = np.bincount(codes.ravel(), minlength=self.dim).astype(np.float32)
        hist /= max(codes.size, 1)
        return np.sqrt(hist) if self.sqrt else hist


class HOG(FeatureExtractor):
    """Histogram of Oriented Gradients (scikit-image) on the image resized to `size` x `size`.

    `color=True` takes, at each pixel, the gradient of the strongest colour channel;
    otherwise HOG runs on the gray image.
    """

    kind = "hog"

    def __init__(self, size: int = 32, orientations: int = 9, cell: int = 8, block: int = 2,
                 color: bool = True, name: str | None = None):
        if size < cell * block:
            raise ValueError(f"HOG size {size} is smaller than one block ({cell * block} pixels)")
        super().__init__(name)
        self.size, self.orientations, self.cell, self.block, self.color = size, orientations, cell, block, color

    @property
    def dim(self) -> int:
        blocks = self.size // self.cell - self.block + 1
        return blocks * blocks * self.block * self.block * self.orientations

    def get_config(self) -> dict:
        return {"size": self.size, "orientations": self.orientations, "cell": self.cell,
                "block": self.block, "color": self.color}

    def _transform_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        from skimage.feature import hog

        out = np.empty((len(images), self.dim), dtype=np.float32)
        for i, image in enumerate(images):
            pixels = resize_to(np.asarray(image), (self.size, self.size)).astype(np.float32)
            if not self.color:
                pixels = pixels @ _GRAY_WEIGHTS
            out[i] = hog(pixels, orientations=self.orientations, pixels_per_cell=(self.cell, self.cell),
                         cells_per_block=(self.block, self.block), block_norm="L2-Hys",
                         channel_axis=-1 if self.color else None, feature_vector=True)
        return out
