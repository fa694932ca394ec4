"""Small copies of the images that cannot be read small: HEIC and AVIF (HEVC and AV1 have no reduced-size
decoding, so a 12-megapixel phone photo takes ~1 s where a JPEG's eighth takes a few milliseconds), and cameras' raw
files (tens of megabytes each, read whole).

When such an image is read at index size (`cbir index`, `add`), its picture is kept in the cache folder
(`CBIR_HOME/previews`, a JPEG of at most `SIDE` pixels, keyed by the file's path and stamp, which it also records);
reading it again at that size or smaller (a result's thumbnail, a copy's pixel check, a duplicates report) takes the
preview instead. A file changed since has another stamp: it is decoded again, and its new preview replaces the old.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from cbir.config import cache_dir
from cbir.datasets.raw import EXTENSIONS as RAW_EXTENSIONS
from cbir.datasets.video import EXTENSIONS as VIDEO_EXTENSIONS

SIDE = 256  # the longest side of a preview: the size collections are read at (`DEFAULT_MAX_SIDE`)
SLOW = (".heic", ".heif", ".avif", *sorted(RAW_EXTENSIONS), *sorted(VIDEO_EXTENSIONS))


def slow(path: str) -> bool:
    """Whether the image at `path` (a file, or an `ARCHIVE.zip::member`) is of a format that is slow to read small."""
    return path.lower().endswith(SLOW)


def _file(path: str, stamp: str) -> Path:
    """Where the preview of `path` as `stamp` says it is lies: one folder per image, one file per state of it."""
    folder = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_dir("previews") / folder / (hashlib.sha256(stamp.encode()).hexdigest()[:16] + ".jpg")


def keep(path: str, stamp: str | None, image: np.ndarray) -> None:
    """Keep the picture of a slow image read at `SIDE` or smaller (nothing for other images, or without a stamp), in
    place of the one kept for an earlier state of its file."""
    if stamp is None or not slow(path) or max(image.shape[:2]) > SIDE:
        return
    target = _file(path, stamp)
    try:
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    except OSError:  # a cache that cannot be written only costs time
        return
    try:
        with os.fdopen(fd, "wb") as out:
            Image.fromarray(image).save(out, "JPEG", quality=92, comment=_comment(path, stamp))
        os.replace(tmp, target)
        for earlier in target.parent.glob("*.jpg"):
            if earlier != target:
                earlier.unlink(missing_ok=True)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def _comment(path: str, stamp: str) -> bytes:
    return f"{path}\0{stamp}".encode("utf-8", "surrogateescape")


def recorded(preview: Path) -> tuple[str, str] | None:
    """(path, stamp) of the image a preview file was kept for; None for a file of another kind (or unreadable)."""
    try:
        with Image.open(preview) as image:
            comment = image.info.get("comment", b"")
    except (OSError, ValueError):
        return None
    path, zero, stamp = comment.decode("utf-8", "surrogateescape").partition("\0")
    return (path, stamp) if zero and _file(path, stamp).name == preview.name else None


def read(path: str, stamp: str | None, max_side: int | None) -> bytes | None:
    """The kept preview's bytes when the image at `path` (as `stamp` says it is now) is wanted at `max_side` or
    less, and one was kept; else None."""
    if stamp is None or max_side is None or max_side > SIDE or not slow(path):
        return None
    try:
        return _file(path, stamp).read_bytes()
    except OSError:
        return None
