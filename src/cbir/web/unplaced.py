"""Photos and videos without where they were taken, as an album shared by a link without its places gives them
(`cbir.albums.Link.places`): a JPEG as stored but for its metadata segments (the GPS position taken out of its EXIF,
which keeps the date, the camera and how to turn it; its XMP and IPTC, which may name the place and the people in it,
left out), its pixels untouched; any other picture's pixels alone (as the page converts a HEIC or a raw file); a
video as stored but for the ISO 6709 positions in its `moov` box, blanked (`Blanked`: its size and boxes unchanged,
sent a range at a time).
"""

from __future__ import annotations

import io
import os
import struct
from typing import BinaryIO

from PIL import Image
from PIL.ExifTags import IFD

from cbir.datasets.video import ISO6709, moov_at

_EXIF = b"Exif\x00\x00"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length
_DROPPED = {0xE1, 0xED}  # APP1 (XMP, extended XMP; EXIF is rewritten) and APP13 (IPTC)


def jpeg_without_places(data: bytes) -> bytes | None:
    """A JPEG's bytes without its GPS position, XMP and IPTC (its pixels' bytes as they are), to its end: what a
    phone or camera appends after it (another picture of a Multi-Picture file, with an EXIF of its own; a maker's
    trailer) is left out; None where its segments or its EXIF cannot be read (its pixels are to be sent instead)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    kept, at = [data[:2]], 2
    while at + 2 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xD9:  # its end
            kept.append(data[at:at + 2])
            return b"".join(kept)
        if marker in _STANDALONE or marker == 0xFF:
            kept.append(data[at:at + 2] if marker != 0xFF else b"")
            at += 2 if marker != 0xFF else 1
            continue
        end = at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
        segment = data[at:end]
        if marker == 0xDA:  # a scan: its header, then the pixels' bytes up to the next marker
            end = _scan_end(data, end)
            if end is None:
                return None
            kept.append(data[at:end])
        elif marker == 0xE1 and segment[4:10] == _EXIF:
            exif = _exif_without_places(segment[4:])
            if exif is None:
                return None
            kept.append(b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif)
        elif marker not in _DROPPED and not (marker == 0xE2 and segment[4:8] == b"MPF\x00"):  # MPF: what follows
            kept.append(segment)
        at = end
    return None


def _scan_end(data: bytes, at: int) -> int | None:
    """Where a scan's entropy-coded bytes starting at `at` end: the first marker that is no stuffed 0xFF and no
    restart; None where the file ends first."""
    while (at := data.find(b"\xff", at)) >= 0 and at + 1 < len(data):
        if data[at + 1] != 0 and not 0xD0 <= data[at + 1] <= 0xD7:
            return at
        at += 2
    return None


def _exif_without_places(payload: bytes) -> bytes | None:
    try:
        exif = Image.Exif()
        exif.load(payload)
        exif.pop(IFD.GPSInfo, None)
        written = exif.tobytes()
    except Exception:  # noqa: BLE001 - an EXIF Pillow cannot read or write: the picture's pixels are sent instead
        return None
    return written if len(written) + 2 <= 0xFFFF else None


def video_places(f: BinaryIO) -> list[tuple[int, int]]:
    """(offset, length) in an open video file of each ISO 6709 position its `moov` box holds (where phones write
    where a video was taken)."""
    try:
        found = moov_at(f)
    except (struct.error, OSError, ValueError):  # boxes cut short: nothing a player would read either
        found = None
    if found is None:
        return []
    start, moov = found
    return [(start + match.start(), match.end() - match.start()) for match in ISO6709.finditer(moov)]


class Blanked(io.RawIOBase):
    """A file read as it is stored but for some byte ranges, read as spaces; seekable, for ranges to be sent."""

    def __init__(self, f: BinaryIO, blanks: list[tuple[int, int]]):
        super().__init__()
        self._f, self._blanks = f, blanks
        self.size = f.seek(0, os.SEEK_END)
        f.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def readinto(self, buffer) -> int:
        at = self._f.tell()
        n = self._f.readinto(buffer)
        for start, length in self._blanks:
            lo, hi = max(start, at), min(start + length, at + n)
            if lo < hi:
                buffer[lo - at:hi - at] = b" " * (hi - lo)
        return n

    def close(self) -> None:
        self._f.close()
        super().close()
