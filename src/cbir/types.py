"""Small records passed between modules (no internal imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One image of a collection: a stable id, RGB uint8 pixels (H, W, 3), label and source path."""

    id: str
    image: np.ndarray
    label: str | None = None
    path: str | None = None
    split: str | None = None


class Hit(NamedTuple):
    """One search result: the indexed id and its cosine similarity; label, path, the date the picture was taken
    (ISO 8601; EXIF, else the file's time) and where, its tags, rating, people, camera, albums, caption and the text
    read in it, when known.

    A named tuple: a search over 10,000 queries creates a million of them.
    """

    id: str
    score: float
    label: str | None = None
    path: str | None = None
    copy: float | None = None  # put first as a copy of the query: its similarity by the copy features (cbir.copies)
    date: str | None = None
    alike: tuple[str, ...] = ()  # a search's `distinct`: the look-alikes of this image it stands for (cbir.distinct)
    shows: str | None = None  # a search by words: the most probable of the classes they name (cbir.words)
    place: str | None = None  # where the picture was taken: the town nearest its GPS position (cbir.places)
    position: tuple[float, float] | None = None  # its GPS position: (latitude, longitude) in degrees
    tags: tuple[str, ...] = ()  # the tags its photo manager gave it (cbir.tags)
    rating: int | None = None  # its stars, 1 to 5 (-1: rejected), where it was rated
    people: tuple[str, ...] = ()  # the people whose faces were found in it, left to right (cbir.faces)
    camera: str | None = None  # the camera that took it, as its EXIF says (cbir.cameras)
    albums: tuple[str, ...] = ()  # the albums it is in (cbir.albums)
    caption: str | None = None  # what its photo manager's caption says (cbir.tags)
    text: str | None = None  # the text read in it, its lines joined by newlines (cbir.texts)

    def to_dict(self) -> dict:
        return {"id": self.id, "score": self.score, "label": self.label, "path": self.path, "copy": self.copy,
                "date": self.date, "place": self.place, "position": list(self.position) if self.position else None,
                "tags": list(self.tags), "rating": self.rating, "people": list(self.people), "camera": self.camera,
                "albums": list(self.albums), "caption": self.caption, "text": self.text, "alike": list(self.alike),
                **({"shows": self.shows} if self.shows else {})}


@dataclass(frozen=True)
class SearchResult:
    """The hits for one query (an image, words), best first; a search by words says, for people, what classes its
    words named (`classes`), or what tags (`tagged`), or what words its captions hold (`captioned`) or the text read
    in them (`in_text`), and near what place (`near`: "dog in Lyon"); a search by a face, whose face it is
    (`person`: a name, or "person 3"), where it is someone's the engine knows."""

    hits: list[Hit] = field(default_factory=list)
    query: str | None = None
    classes: str | None = None
    near: str | None = None
    tagged: str | None = None
    captioned: str | None = None
    in_text: str | None = None
    person: str | None = None

    def to_dict(self) -> dict:
        return {"query": self.query, **({"classes": self.classes} if self.classes else {}),
                **({"tagged": self.tagged} if self.tagged else {}),
                **({"captioned": self.captioned} if self.captioned else {}),
                **({"in_text": self.in_text} if self.in_text else {}),
                **({"person": self.person} if self.person else {}),
                **({"near": self.near} if self.near else {}), "hits": [h.to_dict() for h in self.hits]}
