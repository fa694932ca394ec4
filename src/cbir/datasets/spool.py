"""Decoded images written to disk as they are read and memory-mapped from there, so that reading a collection takes
the same memory whatever its size (100,000 photos at 256 pixels are ~15 GB of pixels)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cbir.config import cache_dir


class PixelSpool:
    """Images (H, W, 3) uint8 appended one by one to a file; `images()` maps them back."""

    def __init__(self, file: BinaryIO):
        self._file = file
        self.shapes: list[tuple[int, int, int]] = []

    @classmethod
    def at(cls, path: Path) -> PixelSpool:
        """A spool kept in the file `path`, which can be mapped again once closed (`mapped`)."""
        return cls(open(path, "wb+"))

    @classmethod
    def unnamed(cls) -> PixelSpool:
        """A spool in a file without a name in the cache folder, gone with the last image mapped from it."""
        return cls(tempfile.TemporaryFile(dir=cache_dir("decoded")))

    def __len__(self) -> int:
        return len(self.shapes)

    def append(self, image: np.ndarray) -> None:
        pixels = np.ascontiguousarray(image, dtype=np.uint8)
        if pixels.ndim != 3:
            raise ValueError(f"an image is (H, W, channels), not {pixels.shape}")
        self._file.write(memoryview(pixels).cast("B"))
        self.shapes.append(pixels.shape)

    def extend(self, images: Iterable[np.ndarray]) -> None:
        for image in images:
            self.append(image)

    def images(self) -> np.ndarray | list[np.ndarray]:
        """The images appended so far, mapped from the file: one (n, H, W, 3) array when all have one shape."""
        self._file.flush()
        return mapped(self._file, np.array(self.shapes, dtype=np.int64).reshape(-1, 3))

    def close(self) -> None:
        """Close the file (the images mapped from it stay readable)."""
        self._file.close()


def mapped(file: BinaryIO | Path, shapes: np.ndarray) -> np.ndarray | list[np.ndarray]:
    """Images stored one after the other in `file` with these (n, 3) shapes, memory-mapped read-only."""
    sizes = np.prod(shapes, axis=1)
    total = int(sizes.sum())
    if total == 0:
        return []
    pixels = np.memmap(file, dtype=np.uint8, mode="r", shape=(total,))
    if (shapes == shapes[0]).all():
        return pixels.reshape(len(shapes), *shapes[0])
    ends = np.cumsum(sizes)
    return [pixels[end - size: end].reshape(shape) for end, size, shape in zip(ends, sizes, shapes)]
