"""Camera raw files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2 and the rest LibRaw reads, through rawpy): the camera's
own JPEG inside the file when it is large enough for what is wanted (most cameras keep one of the whole photo), or
no smaller than developing would give, else the sensor's data developed at half size, as the camera set its white
balance; turned as the camera was held."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import rawpy
from PIL import Image

from cbir.datasets.listing import extension
from cbir.errors import ImageDecodeError

EXTENSIONS = frozenset({".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf",
                        ".rw2", ".rwl", ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".kdc", ".dcr", ".mrw",
                        ".mos"})
MAGIC = (b"II*\0", b"MM\0*", b"IIRO", b"IIRS", b"MMOR", b"IIU\0", b"FUJIFILMCCD-RAW", b"FOVb", b"\0MRM")
ENOUGH = 1024  # a preview this large stands for the whole photo (the page's full view) or for a part of it
_TURNS = {3: 2, 5: 1, 6: -1}  # LibRaw's flip -> quarter turns anticlockwise (np.rot90)


def is_raw_name(name: str) -> bool:
    """Whether a file name is a camera raw file's."""
    return extension(name) in EXTENSIONS


def without_raw_twins(names: list[str]) -> list[str]:
    """The image file names (paths), less each camera raw file beside a picture of the same name (IMG_0001.CR2 next
    to IMG_0001.JPG, a camera set to save both): one shot, of which the camera's own picture is indexed."""
    pictures = {name.rpartition(".")[0].lower() for name in names if not is_raw_name(name)}
    return [name for name in names if not (is_raw_name(name) and name.rpartition(".")[0].lower() in pictures)]


def raw_pixels(source: str | io.BytesIO) -> int | None:
    """Width x height of the photo a camera raw file (a path, or its bytes) holds; None when it is no raw file."""
    try:
        with rawpy.imread(source) as raw:
            return raw.sizes.width * raw.sizes.height
    except (rawpy.LibRawError, OSError):
        return None


def might_be_raw(data: bytes) -> bool:
    """Whether bytes may be a camera raw file (TIFF-like ones too: LibRaw tells them apart from plain TIFFs)."""
    return data.startswith(MAGIC) or data[4:12] == b"ftypcrx "


def decode_raw(data: bytes, max_side: int | None, max_pixels: int,
               decode_jpeg: Callable[[bytes, int | None], np.ndarray]) -> np.ndarray | None:
    """The RGB uint8 picture of a camera raw file, read for a longest side of `max_side` (full size without) and
    turned, not yet shrunk to it (`decode_image` does); None when the bytes are not a raw file LibRaw knows.
    `decode_jpeg(bytes, max_side)` reads the camera's JPEG, as stored (the file's own orientation applies to it)."""
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            developed_side = max(raw.sizes.width, raw.sizes.height) // 2  # what developing at half size gives
            preview = _preview(raw, min(max_side or ENOUGH, ENOUGH, developed_side), max_side, decode_jpeg)
            if preview is not None:
                return np.rot90(preview, _TURNS.get(raw.sizes.flip, 0))
            width, height = raw.sizes.width // 2, raw.sizes.height // 2
            if width * height > max_pixels:
                raise ImageDecodeError(f"raw image is {width}x{height} = {width * height:,} pixels at half size; "
                                       f"the limit is {max_pixels:,}")
            return raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)  # turned by LibRaw
    except rawpy.LibRawFileUnsupportedError:
        return None
    except (rawpy.LibRawError, MemoryError) as exc:
        raise ImageDecodeError(f"not a readable raw file ({type(exc).__name__}: {exc})") from exc


def _preview(raw, least: int, max_side: int | None, decode_jpeg) -> np.ndarray | None:
    """The camera's picture inside the file, when its longest side is `least` or more; else None."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            with Image.open(io.BytesIO(thumb.data)) as im:
                size = im.size
        except (OSError, ValueError):
            return None
        return decode_jpeg(thumb.data, max_side) if max(size) >= least else None
    picture = np.asarray(thumb.data)
    if picture.dtype == np.uint16:
        picture = (picture >> 8).astype(np.uint8)
    return picture if picture.ndim == 3 and picture.shape[2] == 3 and max(picture.shape[:2]) >= least else None
