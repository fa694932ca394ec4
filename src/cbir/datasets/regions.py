"""A part of an image to search with (`cbir search --crop`, the API's and the page's `crop`): a box given as
fractions of the picture's width and height (as it is shown: EXIF orientation applied), so that it names the same
part whatever size the image is read at."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cbir.errors import CbirError

MAX_READ_SIDE = 2048  # the longest side an image is read at for a small part of it (12 MB of pixels)
MIN_SIDE = 8  # pixels each way: a smaller part shows too little to search with

FORM = "LEFT,TOP,WIDTH,HEIGHT as fractions of the image's width and height (e.g. 0.25,0.1,0.5,0.6)"


@dataclass(frozen=True)
class Region:
    """The part of an image from (`left`, `top`), `width` by `height`, each a fraction of the image's size."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def parse(cls, text: str) -> Region:
        """A region from "LEFT,TOP,WIDTH,HEIGHT"; a CbirError saying what is wrong otherwise."""
        try:
            values = [float(part) for part in text.split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise CbirError(f"a crop is {FORM}, not '{text}'")
        left, top, width, height = values
        slack = 1e-3  # fractions rounded to a few decimals each (the page sends four) may add up to a hair over 1
        if not (0 <= left < 1 and 0 <= top < 1 and width > 0 and height > 0
                and left + width <= 1 + slack and top + height <= 1 + slack):
            raise CbirError(f"a crop lies within the image: LEFT and TOP from 0, WIDTH and HEIGHT above 0, "
                            f"LEFT+WIDTH and TOP+HEIGHT at most 1; not '{text}'")
        return cls(left, top, min(width, 1 - left), min(height, 1 - top))

    def __str__(self) -> str:
        return f"{self.left:.4g},{self.top:.4g},{self.width:.4g},{self.height:.4g}"

    def read_side(self, side: int) -> int:
        """The longest side to read the whole image at for this part to have about `side` pixels on its own."""
        return min(MAX_READ_SIDE, math.ceil(side / max(self.width, self.height)))

    def of(self, image: np.ndarray) -> np.ndarray:
        """This part of an (H, W, 3) image."""
        height, width = image.shape[:2]
        x0, y0 = round(self.left * width), round(self.top * height)
        x1, y1 = round((self.left + self.width) * width), round((self.top + self.height) * height)
        if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
            raise CbirError(f"that part of the image is {x1 - x0}x{y1 - y0} pixels; a part to search with needs "
                            f"{MIN_SIDE} or more each way")
        return np.ascontiguousarray(image[y0:y1, x0:x1])


def read_side(region: Region | None, side: int) -> int:
    """The longest side to read an image at for it, or its `region`, to be described at `side` pixels."""
    return region.read_side(side) if region else side
