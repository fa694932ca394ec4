"""Read one indexed image back from the path recorded for it (file, zip member or official CIFAR-10 archive)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from cbir.datasets import previews
from cbir.datasets.folder import archive_member, decode_file, file_stamp, read_bytes
from cbir.datasets.images import decode_image, is_image_name
from cbir.errors import DatasetError


def _official_member(path: str) -> tuple[str, str] | None:
    """(archive, image id) for an image of the official CIFAR-10 archive (its ids have no extension)."""
    stored = archive_member(path)
    return stored if stored and not is_image_name(stored[1]) else None


def load_image(path: str, max_side: int | None = None) -> np.ndarray:
    """RGB uint8 pixels of the image stored at `path` (shrunk to fit `max_side`, when given and larger)."""
    official = _official_member(path)
    if official:
        return _official_image(*official)
    try:
        if previews.slow(path) and max_side is not None and max_side <= previews.SIDE:
            return _from_preview(path, max_side)
        return decode_file(path, max_side)
    except (OSError, KeyError) as exc:
        raise DatasetError(f"image not available at {path}: {exc}") from exc


def _from_preview(path: str, max_side: int) -> np.ndarray:
    """A slow image (`previews`) at `max_side` or less, from its preview, kept now if it was not yet."""
    stamp = file_stamp(path)
    kept = previews.read(path, stamp, max_side)
    if kept is None:
        previews.keep(path, stamp, decode_file(path, previews.SIDE))
        kept = previews.read(path, stamp, max_side)
    return decode_image(kept, max_side=max_side) if kept is not None else decode_file(path, max_side)


def original_bytes(path: str) -> bytes | None:
    """The file's own bytes when it is a stand-alone image file or zip member, else None."""
    if _official_member(path):
        return None
    try:
        return read_bytes(path)
    except (OSError, KeyError) as exc:
        raise DatasetError(f"image not available at {path}: {exc}") from exc


def _official_image(archive: str, image_id: str) -> np.ndarray:
    rows, images = _official_split(archive, image_id.split("/", 1)[0])
    if image_id not in rows:
        raise DatasetError(f"{image_id} is not in {archive}")
    return np.asarray(images[rows[image_id]])


@lru_cache(maxsize=4)
def _official_split(archive: str, split: str) -> tuple[dict[str, int], np.ndarray]:
    from cbir.datasets.cifar10 import load_cifar10

    if not Path(archive).exists():
        raise DatasetError(f"image not available: {archive} is missing")
    dataset = load_cifar10(split, data=archive, progress=False)
    return {id_: i for i, id_ in enumerate(dataset.ids)}, dataset.images
