"""Which indexed images a search may return: by class label, by split, by folder (a prefix of the image id, its
path relative to the collection), by date (when the picture was taken: EXIF, else the file's time), by where (the
place its GPS position names: `cbir.places`), by their tags and stars (`cbir.tags`), by the camera that took them
(`cbir.cameras`), by kind (photos, videos, camera raw files), by a person in them (`cbir.faces`), by an album they
were put in (`cbir.albums`), by what they show (words, as a search by words names them: `Engine.select` knows which
images show it). Each index applies a filter inside its own search (FAISS id selection, a mask on the exact matrix, a
Milvus filter expression, an Elasticsearch filter; a server given the ids that pass where its documents lack the
facts), so a filtered search returns k hits whenever k images pass: never k searched, then some dropped."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from cbir.errors import CbirError


@dataclass(frozen=True)
class Filter:
    """Images pass when each condition given holds: their label is one of `labels`, their split one of
    `splits`, their id starts with `folder`, their date is from `since` to `until` (ISO 8601 text, both
    included: "2019" is the start of 2019 as a lower bound and its whole year as an upper one), they were taken at
    a place `place` names (`cbir.places`; which `passes` leaves to `Metadata.passing`), they have a tag `tag` names
    (`cbir.tags`; also left to `Metadata.passing`), they are rated `stars` or more, they were taken with a camera
    `camera` names (`cbir.cameras`; left to `Metadata.passing` too), they are of a `kind` (`KINDS`: by their file's
    name), a face of `person` (a number or a name) was found in them (`cbir.faces`), they are in the album `album`
    (`cbir.albums`), they show what the words `showing` name, the text read in them holds each word of `text`
    (`cbir.texts`; these four `passes` leaves to the engine: `Engine.select`), their caption holds each word of
    `caption` (left to `Metadata.passing`)."""

    labels: frozenset[str] = frozenset()
    splits: frozenset[str] = frozenset()
    folder: str = ""
    since: str = ""
    until: str = ""
    showing: str = ""
    place: str = ""
    tag: str = ""
    stars: int = 0
    person: str = ""
    camera: str = ""
    kind: str = ""
    album: str = ""
    caption: str = ""  # words its caption holds, each whole (a search by words sets it: `Engine.search_words`)
    text: str = ""  # words the text read in it holds, each whole (`cbir.texts`)

    @classmethod
    def of(cls, labels: Iterable[str] = (), splits: Iterable[str] = (), folder: str | None = None,
           since: str | None = None, until: str | None = None, showing: str | None = None,
           place: str | None = None, tag: str | None = None, stars: int | str | None = None,
           person: int | str | None = None, camera: str | None = None, kind: str | None = None,
           album: str | None = None, text: str | None = None) -> Filter | None:
        """A filter from what a user gave (empty values ignored; dates and stars checked), or None when nothing
        was."""
        made = cls(frozenset(v for v in labels if v), frozenset(v for v in splits if v), folder or "",
                   _iso(since, "since"), _iso(until, "until"), " ".join((showing or "").split()),
                   " ".join((place or "").split()), " ".join((tag or "").split()),
                   _stars(stars), " ".join(str(person or "").split()), " ".join((camera or "").split()), _kind(kind),
                   " ".join((album or "").split()), text=" ".join((text or "").split()))
        return made if made else None

    def __bool__(self) -> bool:
        return bool(self.labels or self.splits or self.folder or self.since or self.until or self.showing
                    or self.place or self.tag or self.stars or self.person or self.camera or self.kind
                    or self.album or self.caption or self.text)

    @property
    def timeline(self) -> bool:
        """Whether no condition is given but when the pictures were taken: a look through the timeline, which leaves
        out the images archived (`cbir.albums.ARCHIVED`)."""
        return not (self.labels or self.splits or self.folder or self.showing or self.place or self.tag or self.stars
                    or self.person or self.camera or self.kind or self.album or self.caption or self.text)

    @property
    def on_documents(self) -> bool:
        """Whether every condition given is one the server indexes' documents hold (label, split, folder, date);
        the others (place, tags, stars, camera, kind, a person, an album, what images show, a caption, the text in
        them) are the engine's facts,
        which a server is given as the ids that pass (`cbir.index.base.among`)."""
        return not (self.place or self.tag or self.stars or self.camera or self.kind or self.person or self.album
                    or self.showing or self.caption or self.text)

    @property
    def before(self) -> str:
        """The first date-time after `until`, at its precision ("2019-03" -> "2019-04": all of March is in)."""
        return _next(self.until) if self.until else ""

    def passes(self, id_: str, label: str | None, split: str | None, date: str | None = None,
               rating: int | None = None) -> bool:
        dated = not (self.since or self.until) or (
            date is not None and date >= self.since and (not self.until or date < self.before))
        return ((not self.labels or label in self.labels) and (not self.splits or split in self.splits)
                and id_.startswith(self.folder) and dated and (not self.stars or (rating or 0) >= self.stars)
                and (not self.kind or kind_of(id_) in ({"photo", "raw"} if self.kind == "photo" else {self.kind})))

    def describe(self) -> str:
        """For people, after "Only images ": "labelled cat or dog, in folder 2019/, taken in 2019-07, near Lyon,
        tagged Anna, rated 4 stars or more, taken with Canon EOS R6, with person 2, in album Rome, showing beach"."""
        dated = self.since or self.until
        parts = ([f"labelled {' or '.join(sorted(self.labels))}"] if self.labels else []) + (
            [f"of split {' or '.join(sorted(self.splits))}"] if self.splits else []) + (
            [f"in folder {self.folder}"] if self.folder else []) + (
            [f"taken in {self.since}" if self.since == self.until else
             f"taken from {self.since or 'any date'} to {self.until or 'any date'}"] if dated else []) + (
            [f"{'' if dated else 'taken '}near {self.place}"] if self.place else []) + (
            [f"tagged {self.tag}"] if self.tag else []) + (
            [f"rated {self.stars} star{'s' * (self.stars > 1)} or more"] if self.stars else []) + (
            [f"taken with {self.camera}"] if self.camera else []) + (
            [f"that are {KINDS[self.kind]}"] if self.kind else []) + (
            [f"with {'person ' * self.person.isdigit()}{self.person}"] if self.person else []) + (
            [f"in album {self.album}"] if self.album else []) + (
            [f"whose caption says {self.caption}"] if self.caption else []) + (
            [f"in which {self.text} is written"] if self.text else []) + (
            [f"showing {self.showing}"] if self.showing else [])
        return ", ".join(parts)


def _iso(text: str | None, what: str) -> str:
    """A date bound as given ("2019", "2019-07", "2019-07-14", "2019-07-14T10:00"), checked."""
    if not text:
        return ""
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2})?)?)?)?)?", text):
        raise CbirError(f"{what} is a date such as 2019, 2019-07 or 2019-07-14, not '{text}'")
    text = text.replace(" ", "T")
    try:
        _next(text)
    except ValueError:
        raise CbirError(f"{what} is not a real date: '{text}'") from None
    return text


KINDS = {"photo": "photos", "video": "videos", "raw": "camera raw files",
         "screenshot": "screenshots"}  # what `kind` may be ("photo": raw files too, not screenshots)
# how phones and computers name a screenshot (its name starts so, case and accents ignored), in their languages
SCREENSHOT_NAMES = ("screenshot", "screen shot", "bildschirmfoto", "capture d'ecran", "captura de pantalla",
                    "captura de tela", "schermafbeelding", "skarmavbild", "schermata", "zrzut ekranu",
                    "снимок экрана", "スクリーンショット", "屏幕截图", "스크린샷")


def kind_of(id_: str) -> str:
    """What an image is, by its file's name: "video", "raw" (a camera raw file), "screenshot" (named as systems
    name them, or in a folder named Screenshots) or "photo"."""
    is_video_name, is_raw_name, fold = _namers()
    if is_video_name(id_):
        return "video"
    if is_raw_name(id_):
        return "raw"
    folders, _, name = (id_.lower() if id_.isascii() else fold(id_.replace("\u2019", "'"))).rpartition("/")
    shot = name.startswith(SCREENSHOT_NAMES) or "screenshot" in folders and bool(
        {"screenshots", "screenshot"} & set(folders.split("/")))
    return "screenshot" if shot else "photo"


@cache
def _namers() -> tuple[Callable[[str], bool], Callable[[str], bool], Callable[[str], str]]:
    """What `kind_of` tells files apart with, imported once (not with this module: the datasets import it)."""
    from cbir.datasets.raw import is_raw_name
    from cbir.datasets.video import is_video_name
    from cbir.places import fold

    return is_video_name, is_raw_name, fold


def _kind(value: str | None) -> str:
    """A kind as given (`KINDS`; "" or None: any), checked."""
    if value and value not in KINDS:
        raise CbirError(f"kind is {', '.join(KINDS)} (photo: raw files too), not '{value}'")
    return value or ""


def _stars(value: int | str | None) -> int:
    """A least rating as given (1 to 5 stars; 0, "" or None: any), checked."""
    if value in (None, ""):
        return 0
    try:
        stars = int(value)
    except (TypeError, ValueError):
        stars = -1
    if not 0 <= stars <= 5:
        raise CbirError(f"stars is a rating from 1 to 5 (the least a photo has), not '{value}'")
    return stars


_FORMATS = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d", 13: "%Y-%m-%dT%H", 16: "%Y-%m-%dT%H:%M", 19: "%Y-%m-%dT%H:%M:%S"}


def _next(bound: str) -> str:
    """The next period after an ISO date of any precision, at the same precision."""
    form = _FORMATS[len(bound)]
    moment = datetime.strptime(bound, form)
    if form == "%Y":
        return str(moment.year + 1)
    if form == "%Y-%m":
        return f"{moment.year + moment.month // 12:04d}-{moment.month % 12 + 1:02d}"
    step = {"%Y-%m-%d": timedelta(days=1), "%Y-%m-%dT%H": timedelta(hours=1),
            "%Y-%m-%dT%H:%M": timedelta(minutes=1)}.get(form, timedelta(seconds=1))
    return (moment + step).strftime(form)


@dataclass(frozen=True)
class Selection:
    """A filter and the indexed ids that pass it (the embedded indexes select by id; the servers, which
    store each image's label, split, path and date, by the filter itself where it is `on_documents`, else by the
    ids)."""

    filter: Filter
    ids: frozenset[str] = field(repr=False)
