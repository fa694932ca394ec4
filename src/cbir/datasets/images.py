"""Decode any common image file into RGB uint8 pixels."""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pi_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from cbir.datasets.heif import thumbnail_file
from cbir.datasets.listing import extension
from cbir.datasets.raw import EXTENSIONS as RAW_EXTENSIONS
from cbir.datasets.raw import decode_raw, might_be_raw
from cbir.errors import ImageDecodeError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif",
                              ".avif"}) | RAW_EXTENSIONS
MAX_PIXELS = 64_000_000


def is_image_name(name: str) -> bool:
    """True when the file name has one of the supported image extensions."""
    return extension(name) in IMAGE_EXTENSIONS


def quiet_pillow() -> None:
    """Pillow's notes on damaged metadata ignored (the decode decides), its decompression-bomb warning an error:
    set once for the process when this module is imported, since decodes run in many threads at once (a filter
    block entered and left per decode would race: one thread's exit restores another's filters). Pillow's own
    bomb check, when it opens a file, only stops what `decode_image` could not read small: `decode_image` counts
    the pixels it would decode (a JPEG at an eighth of each side) against its own limit."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
    Image.MAX_IMAGE_PIXELS = 64 * MAX_PIXELS


quiet_pillow()
pi_heif.register_heif_opener(decode_threads=1)  # HEIC: libheif turns a photo as stored and resets EXIF to match;
# one thread: files decode in parallel already (`load_folder`), pools are never nested


def decode_image(data: bytes, max_side: int | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes into an (H, W, 3) uint8 RGB array.

    Any format Pillow reads, HEIC/HEIF and AVIF included, and cameras' raw files (`raw`). EXIF orientation is
    applied, the first frame of an animation is used, alpha is composited over white, and grayscale, palette, CMYK
    and 16-bit images are converted. `max_side` shrinks the image (keeping its aspect) so its longest side fits; a
    JPEG is decoded straight at a fraction of its size, a HEIC photo from its own thumbnail when that is large enough
    (`heif`). The pixels to decode are counted from the header before decoding (image bombs): a JPEG's at the
    fraction it is decoded at, so a 100-megapixel photo read small is not refused.
    """
    if not data:
        raise ImageDecodeError("empty file: no image data")
    if might_be_raw(data):
        camera = lambda jpeg, side: _decode(jpeg, side, max_pixels, orient=False)  # noqa: E731
        if (raw := decode_raw(data, max_side, max_pixels, camera)) is not None:
            return _fitted(Image.fromarray(np.ascontiguousarray(raw)), max_side)
    if max_side and (thumbnail := thumbnail_file(data, max_side)) is not None:
        data = thumbnail
    return _decode(data, max_side, max_pixels)


def _decode(data: bytes, max_side: int | None, max_pixels: int, orient: bool = True) -> np.ndarray:
    """`decode_image` by Pillow; `orient`: EXIF orientation applied."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            im.seek(0)
            if max_side and max(width, height) > 2 * max_side:  # a JPEG: decoded at a half, quarter or eighth of
                scale = max_side / max(width, height)  # each side, its longer side still `max_side` or more
                im.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            if im.width * im.height > max_pixels:  # what would be decoded: checked before decoding it
                shown = f" (read at {im.width}x{im.height})" if im.size != (width, height) else ""
                raise ImageDecodeError(f"image is {width}x{height} = {width * height:,} pixels{shown}; the limit is "
                                       f"{max_pixels:,}")
            im.load()
            rgb = _to_rgb(ImageOps.exif_transpose(im) if orient else im)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("unknown or unsupported image format") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            EOFError, MemoryError) as exc:
        raise ImageDecodeError(f"not a readable image ({type(exc).__name__}: {exc})") from exc
    return _fitted(rgb, max_side)


def _fitted(rgb: Image.Image, max_side: int | None) -> np.ndarray:
    """An RGB picture as an (H, W, 3) uint8 array, shrunk (keeping its aspect) so its longest side is at most
    `max_side`."""
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8).copy()


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency over white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        im = Image.fromarray(np.clip(arr * (255.0 / peak), 0, 255).round().astype(np.uint8), "L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return im.convert("RGB") if im.mode != "RGB" else im


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to (height, width) unless it already has that size."""
    if image.shape[:2] == size:
        return image
    resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def resize_all(images: np.ndarray | Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """(n, height, width, 3) uint8, a new writable array, from RGB uint8 images of any size (resized
    where they differ)."""
    if isinstance(images, np.ndarray) and images.shape[1:3] == size:
        return np.array(images)
    return np.stack([resize_to(np.asarray(im), size) for im in images])
