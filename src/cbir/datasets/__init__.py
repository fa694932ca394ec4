"""Image collections: folders, zips and CIFAR-10, as `Dataset` objects of RGB uint8 images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cbir.datasets.cifar10 import load_cifar10
from cbir.datasets.collection import Dataset
from cbir.datasets.folder import load_folder, read_bytes
from cbir.datasets.images import decode_image

__all__ = ["Dataset", "decode_image", "load_cifar10", "load_dataset", "load_folder", "read_bytes", "source_of"]


def load_dataset(spec: str, split: str | None = None, data: str | Path | None = None,
                 progress: bool = True, keep: Callable[[str, str], bool] | None = None) -> Dataset:
    """Load `cifar10`, `cifar10:test`, a folder/zip path, or `PATH:split`.

    For CIFAR-10 the split defaults to "train"; for a folder, to every image. `keep`: as in `load_folder`
    (CIFAR-10 is read whole).
    """
    source = source_of(spec)
    if source is None:
        return load_cifar10(spec.partition(":")[2] or split or "train", data=data, progress=progress)
    path, spec_split = source
    return load_folder(path, split=spec_split or split, progress=progress, keep=keep)


def source_of(spec: str) -> tuple[Path, str | None] | None:
    """The folder or zip a `load_dataset` spec names, and the split it names (`PATH:split`) or None; None for
    CIFAR-10."""
    if spec.partition(":")[0] == "cifar10":
        return None
    path = Path(spec).expanduser()
    if not path.exists() and ":" in spec:
        head, _, tail = spec.rpartition(":")
        if Path(head).expanduser().exists():
            return Path(head).expanduser(), tail
    return path, None
