"""Pictures as the page sends them: thumbnails, originals and a zip of several, and which stored formats a browser
shows."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np
from PIL import Image

BROWSER_FORMATS = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"GIF8": "image/gif",
                   b"RIFF": "image/webp", b"BM": "image/bmp"}


def browser_type(data: bytes | None) -> str | None:
    """The MIME type of a stored file a browser shows as it is (by its first bytes), else None (HEIC, TIFF)."""
    if data and data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "image/avif"
    return next((m for magic, m in BROWSER_FORMATS.items() if data and data.startswith(magic)), None)


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def thumbnail(image: np.ndarray, size: int) -> tuple[bytes, str]:
    """(bytes, MIME type) of a thumbnail no larger than size x size: a photo's as a JPEG (a fifth of a PNG's
    bytes), a tiny image's (enlarged without blur) as a PNG."""
    if 2 * max(image.shape[:2]) <= size:
        return thumbnail_png(image, size), "image/png"
    im = Image.fromarray(image)
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    return encode_jpeg(np.asarray(im), quality=85), "image/jpeg"


def thumbnail_png(image: np.ndarray, size: int) -> bytes:
    """A PNG no larger than size x size; tiny images (CIFAR's 32x32) are enlarged without blur."""
    im = Image.fromarray(image)
    scale = size / max(im.size)
    resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), resample)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def zipped(files: Iterable[tuple[str, bytes | BinaryIO]]) -> Iterator[bytes]:
    """A zip archive of (name, bytes, or an open file read a megabyte at a time and closed: a video of gigabytes)
    files, made as it is sent: its bytes after each file or megabyte (stored as they are: photos and videos are
    compressed already), never the whole archive, nor a file twice, in memory at once."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files:
            if isinstance(data, bytes):
                archive.writestr(name, data)
            else:
                with data, archive.open(name, "w", force_zip64=True) as member:
                    while block := data.read(1 << 20):
                        member.write(block)
                        yield from sink.take()
            yield from sink.take()
    yield from sink.take()


class _Chunks(io.RawIOBase):
    """A stream that keeps what is written until taken (`zipfile` writes to it without seeking), as it was written:
    a file's bytes are sent as they are, not copied."""

    def __init__(self):
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(data if isinstance(data, bytes) else bytes(data))
        return len(data)

    def take(self) -> list[bytes]:
        taken, self._chunks = self._chunks, []
        return taken
