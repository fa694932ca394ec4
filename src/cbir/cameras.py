"""The camera a photo was taken with, as its EXIF says (Make and Model: "Apple iPhone 13 Pro", "Canon EOS R6"; a
video, as Apple's metadata keys do), a filter by it ("," or "or" between cameras names any of them; case and accents
ignored), and a collection's cameras, the most used first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from PIL import Image

from cbir.places import counted, fold
from cbir.tags import named_among

MAKE, MODEL = 0x010F, 0x0110
LONGEST = 60  # characters of a camera's name kept (a damaged header may say anything)


def camera_of(exif: Image.Exif) -> str:
    """A photo's camera from its EXIF (`camera_named`)."""
    return camera_named(str(exif.get(MAKE) or ""), str(exif.get(MODEL) or ""))


def camera_named(make: str, model: str) -> str:
    """A camera from its maker and model: the model, after the maker unless the model names it already ("NIKON
    D750" from "NIKON CORPORATION" and "NIKON D750"); "" where neither is given."""
    make, model = (" ".join(text.replace("\x00", " ").split()) for text in (make, model))
    if make and model and fold(model).startswith(fold(make.split()[0])):
        make = ""
    return " ".join(filter(None, (make, model)))[:LONGEST]


def cameras_named(text: str, cameras: Iterable[str]) -> frozenset[str]:
    """Those of `cameras` that the text names (any of those it joins with "," or "or"); an error with the cameras
    meant when one names none of them."""
    return named_among(text, cameras, "camera", "no image says which camera took it (cameras write it into a "
                                                "photo's EXIF)", "no image was taken with '{}'")


class Camera(NamedTuple):
    """A camera a collection's photos were taken with: how many, and the newest of them (an id)."""

    camera: str
    images: int
    example: str


def overview(cameras: Mapping[str, str], newest_first: list[str]) -> list[Camera]:
    """The cameras of a collection's photos (`cameras`: id -> camera), the most used first, each with its newest
    photo (`newest_first`: the ids by date)."""
    return [Camera(*row) for row in counted({id_: (camera,) for id_, camera in cameras.items()}, newest_first)]
