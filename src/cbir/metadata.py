"""Per-image metadata (id, path, label, split, date, position, tags, rating, camera, and what the file was when
described) kept in memory and stored in SQLite: what the file says (`image_facts`). `date` is when the picture was
taken (EXIF, else the file's time), `position` where (its EXIF GPS position, "LAT,LON"; "" when it has none; None
when it was indexed before positions were read), `tags` the photo's tags (`cbir.tags`, one a line; "" when it has
none; None when it was indexed before tags were read), `rating` its stars, `camera` what took it
(`cbir.cameras`; "" when it does not say; None when it was indexed before cameras were read) and `caption` what
its photo manager's caption says (`cbir.tags.caption_text`; "" for none; None when indexed before captions were read);
`added` when the engine first held it (ISO 8601, this computer's time; None when indexed before that was kept).

`stamp` is the file as the file system saw it (size and modification time; a zip member's size and
CRC-32), cheap to compare with the file as it is now; `digest` a hash of the decoded pixels, which
says whether a file whose stamp changed (re-saved, touched, copied back) shows another picture.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from cbir.albums import Albums
from cbir.datasets.collection import Dataset
from cbir.datasets.folder import (archive_member, collection_root, file_part, file_stamp, image_facts, image_stamp,
                                  layout_of)
from cbir.errors import EngineError
from cbir.filters import Filter
from cbir.cameras import cameras_named
from cbir.places import coordinates, places_named, places_of
from cbir.tags import caption_words, tags_named, tags_of
from cbir.texts import Texts
from cbir.types import Hit

COLUMNS = ("id", "path", "label", "split", "stamp", "digest", "date", "position", "tags", "rating", "camera",
           "caption", "added", "date_set", "position_set")
_SCHEMA = ("CREATE TABLE images (id TEXT PRIMARY KEY, path TEXT, label TEXT, split TEXT, stamp TEXT, digest TEXT, "
           "date TEXT, position TEXT, tags TEXT, rating INTEGER, camera TEXT, caption TEXT, added TEXT, "
           "date_set TEXT, position_set TEXT)")
# the orders of a look through the images (`Metadata.in_order`), as results name them: by when they were taken, the
# newest or the oldest first, or by when they were added, the latest first
ORDERS = {"newest": "newest first", "oldest": "oldest first", "added": "latest added first"}
_EMPTY = (None,) * (len(COLUMNS) - 1)


clock = datetime.now  # what time it is: when images are added (a test sets its own)


def _or(read: str | None, kept: str | None) -> str | None:
    """What a file says (a date; a position, "" for none), or what is kept where it could not be read (None)."""
    return kept if read is None else read


def pixel_digest(image: np.ndarray) -> str:
    """A short hash of decoded pixels (and their shape)."""
    image = np.ascontiguousarray(image)
    return hashlib.blake2b(repr(image.shape).encode() + image.tobytes(), digest_size=12).hexdigest()


class Metadata:
    """A mapping id -> (path, label, split, stamp, digest, date, position, tags, rating, camera, caption, added,
    date_set, position_set: when and where it was taken as said by hand, which `date` and `position` are whatever its
    file says, or None)."""

    def __init__(self, rows: Iterable[tuple] = ()):
        self._rows = {row[0]: tuple(row[1:]) + _EMPTY[len(row) - 1:] for row in rows}
        self._redated: set[str] = set()  # images whose date read again changed (`redated`)
        self._derived: dict[str, object] = {}  # worked out from the rows when first asked for, until they change
        self.people: dict[str, tuple[str, ...]] = {}  # who is in each image (`cbir.faces`): set by its engine
        self.albums = Albums()  # the albums made of the images (`cbir.albums`): set by its engine
        self.texts = Texts()  # the text read in the images (`cbir.texts`): set by its engine

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> Metadata:
        """The dataset's images as they are now: their files' stamps, their pixels' digests, what their files say
        (`image_facts`), added now."""
        now = clock().isoformat(timespec="seconds")
        return cls((id_, path, label, split, image_stamp(path), pixel_digest(image), *image_facts(path)[:6], now)
                   for id_, path, label, split, image in zip(dataset.ids, dataset.paths, dataset.labels,
                                                             dataset.splits, dataset.images))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, id_: str) -> bool:
        return id_ in self._rows

    def path(self, id_: str) -> str | None:
        return self._rows.get(id_, _EMPTY)[0]

    def label(self, id_: str) -> str | None:
        return self._rows.get(id_, _EMPTY)[1]

    def stamp(self, id_: str) -> str | None:
        return self._rows.get(id_, _EMPTY)[3]

    def digest(self, id_: str) -> str | None:
        return self._rows.get(id_, _EMPTY)[4]

    def date(self, id_: str) -> str | None:
        return self._rows.get(id_, _EMPTY)[5]

    def date_set(self, id_: str) -> str | None:
        """When the picture was taken as set by hand (`set_date`); None where its file says it."""
        return self._rows.get(id_, _EMPTY)[12]

    def position_set(self, id_: str) -> str | None:
        """Where the picture was taken as said by hand (`set_position`); None where its file says it."""
        return self._rows.get(id_, _EMPTY)[13]

    def set_date(self, id_: str, date: str | None) -> bool:
        """Say when a picture was taken (ISO 8601), whatever its file says, kept when its file is read again; None:
        as its file says again (as it is where the file cannot be read). Returns whether its date, or whether it is
        said by hand, changed."""
        row = self._rows[id_]
        taken = date if date is not None else _or(image_facts(row[0]).date if row[0] else None, row[5])
        self._rows[id_] = row[:5] + (taken,) + row[6:12] + (date,) + row[13:]
        if taken != row[5]:
            self._redated.add(id_)
            self._derived.clear()
        return taken != row[5] or date != row[12]

    def set_position(self, id_: str, position: str | None) -> bool:
        """Say where a picture was taken ("LAT,LON": `cbir.places.located`), whatever its file says, kept when its
        file is read again; None: as its file says again (as it is where the file cannot be read). Returns whether
        its position, or whether it is said by hand, changed."""
        row = self._rows[id_]
        at = position if position is not None else _or(image_facts(row[0]).position if row[0] else None, row[6])
        self._rows[id_] = row[:6] + (at,) + row[7:13] + (position,)
        if at != row[6]:
            self._derived.clear()
        return at != row[6] or position != row[13]

    def attributes(self, id_: str) -> dict:
        """What document-storing indexes keep beside the vector (`cbir.index.base.ATTRIBUTES`)."""
        path, label, split, _stamp, _digest, date, *_ = self._rows[id_]
        return {"path": path, "label": label, "split": split, "date": date}

    def hit(self, id_: str, score: float) -> Hit:
        """A search result for an indexed image: its label, path, date, place, tags, rating, camera, caption, people
        and albums with the score."""
        path, label, _split, _stamp, _digest, date, position, tags, rating, camera, caption, *_ = self._rows.get(
            id_, _EMPTY)
        return Hit(id_, score, label, path, date=date, place=self.places().get(id_) if position else None,
                   position=coordinates(position), tags=tags_of(tags), rating=rating, people=self.people.get(id_, ()),
                   camera=camera or None, albums=self.albums.of(id_), caption=caption or None,
                   text=self.texts.of(id_))

    def positions(self) -> dict[str, tuple[float, float]]:
        """id -> (latitude, longitude) of each picture with a GPS position."""
        return {id_: coordinates(row[6]) for id_, row in self._rows.items() if row[6]}

    def places(self) -> dict[str, str]:
        """id -> where each picture was taken (`cbir.places`: the town nearest its GPS position), of those that say."""
        if "places" not in self._derived:
            self._derived["places"] = places_of(self.positions())
        return self._derived["places"]

    def tags(self) -> dict[str, tuple[str, ...]]:
        """id -> the tags of each picture that has some (`cbir.tags`)."""
        if "tags" not in self._derived:
            self._derived["tags"] = {id_: tags_of(row[7]) for id_, row in self._rows.items() if row[7]}
        return self._derived["tags"]

    def tag_names(self) -> frozenset[str]:
        """Every tag some picture has (a search by words asks each time: kept with the tags)."""
        if "tag names" not in self._derived:
            self._derived["tag names"] = frozenset(tag for found in self.tags().values() for tag in found)
        return self._derived["tag names"]

    def cameras(self) -> dict[str, str]:
        """id -> the camera of each picture that says (`cbir.cameras`)."""
        if "cameras" not in self._derived:
            self._derived["cameras"] = {id_: row[9] for id_, row in self._rows.items() if row[9]}
        return self._derived["cameras"]

    def saying(self, words: str) -> frozenset[str]:
        """The ids of the pictures whose caption holds each of the words, whole (case and accents ignored:
        `caption_words`)."""
        wanted = caption_words(words)
        if "captions" not in self._derived:
            self._derived["captions"] = {id_: caption_words(row[10]) for id_, row in self._rows.items() if row[10]}
        return frozenset(id_ for id_, said in self._derived["captions"].items() if wanted and wanted <= said)

    def ratings(self) -> Counter[int]:
        """How many pictures have each rating (stars; `cbir.tags.REJECTED`), of those that have one."""
        return Counter(row[8] for row in self._rows.values() if row[8] is not None)

    def read_facts(self, ids: Iterable[str]) -> int:
        """Read what these images' files say (`image_facts`: where they were taken, their tags, rating, camera and
        caption) of those indexed before it was all read; returns how many were."""
        unread = [id_ for id_ in ids if id_ in self._rows and None in (self._rows[id_][6], self._rows[id_][7],
                                                                        self._rows[id_][9], self._rows[id_][10])]
        for id_ in unread:
            self._refresh(id_)
        if unread:
            self._derived.clear()
        return len(unread)

    def _refresh(self, id_: str) -> None:
        """Read again when and where the image was taken, its tags, rating and camera: its date where the picture
        has one of its own (EXIF: a camera's clock put right in a photo manager), else kept (a file re-saved alike,
        without one, would otherwise take the new file's time)."""
        facts = image_facts(self.path(id_))
        date = self._rows[id_][12] or (facts.date if facts.own_date else self._rows[id_][5])
        if date != self._rows[id_][5]:
            self._redated.add(id_)
        self._rows[id_] = self._rows[id_][:5] + (date, self._rows[id_][13] or facts.position, facts.tags,
                                                 facts.rating, facts.camera, facts.caption) + self._rows[id_][11:]

    def redated(self) -> list[str]:
        """The images whose date changed when what their files say was read again (a camera's clock put right in
        their EXIF, a Takeout's JSON come since, a date newly read) since last asked, to be indexed again where an
        index keeps dates (`Engine.redate`)."""
        ids, self._redated = sorted(self._redated), set()
        return ids

    def stamps(self) -> dict[str, str | None]:
        """id -> stamp for every image."""
        return {id_: row[3] for id_, row in self._rows.items()}

    def digests(self) -> dict[str, list[str]]:
        """pixel digest -> the ids of the images with those pixels."""
        found: dict[str, list[str]] = {}
        for id_, row in self._rows.items():
            if row[4] is not None:
                found.setdefault(row[4], []).append(id_)
        return found

    def passing(self, where: Filter) -> frozenset[str]:
        """The ids of the images that pass `where` (but for `showing`, which the engine applies)."""
        passing = frozenset(id_ for id_, row in self._rows.items()
                            if where.passes(id_, row[1], row[2], row[5], row[8]))
        if where.place:
            places = self.places()
            named = places_named(where.place, places.values())
            passing = frozenset(id_ for id_ in passing if places.get(id_) in named)
        if where.tag:
            tags = self.tags()
            named = tags_named(where.tag, self.tag_names())
            passing = frozenset(id_ for id_ in passing if not named.isdisjoint(tags.get(id_, ())))
        if where.caption:
            passing &= self.saying(where.caption)
        if where.camera:
            cameras = self.cameras()
            named = cameras_named(where.camera, set(cameras.values()))
            passing = frozenset(id_ for id_ in passing if cameras.get(id_) in named)
        return passing

    def dated(self) -> Iterator[tuple[str, str | None]]:
        """(id, when the picture was taken or None) for every image."""
        return ((id_, row[5]) for id_, row in self._rows.items())

    def dates(self) -> list[str | None]:
        """When each picture was taken (ISO 8601), None where unknown."""
        return [row[5] for row in self._rows.values()]

    def newest_first(self, ids: Iterable[str] | None = None) -> list[str]:
        """These ids (all without them) by when the pictures were taken, the newest first, undated ones last (each
        group in id order): the order of all of them is worked out once."""
        return self.in_order(ids, "newest")

    def oldest_first(self, ids: Iterable[str] | None = None) -> list[str]:
        """These ids (all without them) by when the pictures were taken, the oldest first, undated ones last (each
        group in id order): a trip, an album told from its start."""
        return self.in_order(ids, "oldest")

    def in_order(self, ids: Iterable[str] | None, order: str) -> list[str]:
        """These ids (all without them) in an `ORDERS` order: by when the pictures were taken, the newest or the
        oldest first, or by when they were added, the latest first (then the newest taken); those it does not know
        of last, in id order."""
        if order not in self._derived:
            every = sorted(self._rows)
            if order == "added":
                taken = {id_: n for n, id_ in enumerate(self.in_order(None, "newest"))}
                known = sorted((id_ for id_ in every if self._rows[id_][11]),
                               key=lambda id_: (self._rows[id_][11], -taken[id_]), reverse=True)
                self._derived[order] = known + [id_ for id_ in every if not self._rows[id_][11]]
            else:
                self._derived[order] = sorted((id_ for id_ in every if self.date(id_)), key=self.date,
                                              reverse=order == "newest") + [id_ for id_ in every if not self.date(id_)]
        ranked = self._derived[order]
        if ids is None:
            return list(ranked)
        wanted = ids if isinstance(ids, (set, frozenset)) else set(ids)
        return [id_ for id_ in ranked if id_ in wanted]

    def folders(self, archives: bool = True) -> Counter[Path]:
        """The folders or archives (unless `archives` is false) the images were indexed from (`collection_root`),
        each with its number of them."""
        return Counter(collection_root(row[0], id_) for id_, row in self._rows.items()
                       if row[0] and (archives or archive_member(row[0]) is None))

    def labels(self) -> dict[str, str | None]:
        """id -> label for every image."""
        return {id_: row[1] for id_, row in self._rows.items()}

    def update(self, other: Metadata) -> None:
        self._rows.update(other._rows)
        self._derived.clear()

    def new_and_changed(self, dataset: Dataset) -> tuple[list[int], list[int]]:
        """Positions in `dataset` of the images not held yet, and of those whose file changed under the same path to
        show another picture (its stamp changed, and its pixels' digest with it). A file only touched or re-saved
        alike gets its new stamp; an id held from another file is an error."""
        clash = [id_ for id_, path in zip(dataset.ids, dataset.paths) if id_ in self and self.path(id_) != path]
        if clash:
            raise self.clash(clash[0], len(clash))
        new, changed = [], []
        for i, (id_, path) in enumerate(zip(dataset.ids, dataset.paths)):
            if id_ not in self:
                new.append(i)
                continue
            stamp = image_stamp(path)
            if stamp is None or stamp == self.stamp(id_) or self.digest(id_) is None:
                continue  # unchanged, or described before files were stamped: nothing to compare with
            if file_part(stamp) == file_part(self.stamp(id_)) or pixel_digest(dataset.images[i]) == self.digest(id_):
                self.restamp(id_, stamp)
            else:
                changed.append(i)
        return new, changed

    def clash(self, id_: str, count: int = 1) -> EngineError:
        """The error for adding `count` images whose ids (the first: `id_`) are held from other files."""
        return EngineError(f"{count} image id(s) are already indexed from another file, e.g. '{id_}' ({self.path(id_)})"
                           f": remove them first, or add from a folder whose relative paths are new")

    def unchanged(self, id_: str, path: str) -> bool:
        """Whether image `id_` is held from the file at `path`, which the file system says is as it was indexed
        (`new_and_changed` would pass it by)."""
        return id_ in self and self.path(id_) == path and (stamp := self.stamp(id_)) is not None and (
            image_stamp(path) == stamp)

    def retagged(self, id_: str, path: str) -> bool:
        """Whether image `id_` is held from the file at `path`, which is as it was indexed but for the XMP file beside
        it (`image_stamp`): then its stamp, tags and rating are brought up to date, and nothing need be read but
        the XMP."""
        if id_ not in self or self.path(id_) != path or (old := self.stamp(id_)) is None:
            return False
        new = image_stamp(path)
        if new is None or new == old or file_part(new) != file_part(old):
            return False
        self.restamp(id_, new)
        return True

    def moved(self, moves: Iterable[tuple[str, str, str]]) -> Metadata:
        """The rows of images found again under new ids, from (new id, its path, old id): the old rows with the
        new path, and the label and split the new path implies (as a folder's relative path does)."""
        return Metadata((new, path, *layout_of(new), *self._rows[old][3:]) for new, path, old in moves)

    def added_as(self, other: Metadata, ids: Mapping[str, str]) -> None:
        """Images of another engine's (old id -> id here) added when they were added there, and taken when and where
        it was said there by hand (`set_date`, `set_position`): an engine indexed again knows what came lately, and
        when and where, as the one it replaces did."""
        for old, new in ids.items():
            if new in self._rows and old in other._rows:
                if other._rows[old][11]:
                    self._rows[new] = self._rows[new][:11] + (other._rows[old][11],) + self._rows[new][12:]
                if other._rows[old][12]:
                    self.set_date(new, other._rows[old][12])
                if other._rows[old][13]:
                    self.set_position(new, other._rows[old][13])
        self._derived.clear()

    def restamp(self, id_: str, stamp: str | None) -> None:
        """Record that the file of `id_` (or its XMP sidecar) changed on disk without changing the picture: its tags
        and rating, and where it was taken, are read again."""
        self._rows[id_] = self._rows[id_][:3] + (stamp,) + self._rows[id_][4:]
        self._refresh(id_)
        self._derived.clear()

    def discard(self, ids: Iterable[str]) -> None:
        for id_ in ids:
            self._rows.pop(id_, None)
            self._redated.discard(id_)
        self._derived.clear()

    def save(self, path: Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute(_SCHEMA)
            db.executemany(f"INSERT INTO images VALUES ({', '.join('?' * len(COLUMNS))})",
                           ((id_, *row) for id_, row in self._rows.items()))
        db.close()

    @classmethod
    def load(cls, path: Path) -> Metadata:
        """Read the table; columns an engine of an earlier version lacks (stamp, digest, position, tags, rating,
        camera, caption, added, date_set, position_set) read as None."""
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            present = [row[1] for row in db.execute("PRAGMA table_info(images)")]
            return cls(db.execute(f"SELECT {', '.join(c if c in present else 'NULL' for c in COLUMNS)} FROM images"))
        finally:
            db.close()


class KnownFiles:
    """Sorts the files of a collection being added to an engine, before any is decoded: those it holds as they are
    (`unchanged`; those retagged in an XMP file beside them too, their tags read again), and those it holds from
    another path (`moved`, as (new id, path, old id)): a file moved or renamed, whose size and modification time to
    the nanosecond are those of exactly one indexed image whose own file is gone, or whose folder moved (the same id,
    and its stamp, from a new path; another file under an indexed id is an error, before anything is read). `keep`
    wants the others (`load_folder`)."""

    def __init__(self, metadata: Metadata):
        self.metadata, self.unchanged, self.moved = metadata, [], []
        self._by_stamp: dict[str, list[str]] | None = None

    def keep(self, id_: str, path: str) -> bool:
        if self.metadata.unchanged(id_, path) or self.metadata.retagged(id_, path):
            self.unchanged.append(id_)
            return False
        if id_ in self.metadata and self.metadata.path(id_) != path:  # the folder moved, or another file clashes
            stamp = self.metadata.stamp(id_)
            if stamp is None or image_stamp(path) != stamp or file_stamp(self.metadata.path(id_)) is not None:
                raise self.metadata.clash(id_)
            self.moved.append((id_, path, id_))
            return False
        if id_ not in self.metadata and (old := self._moved_from(path)) is not None:
            self.moved.append((id_, path, old))
            return False
        return True

    def _moved_from(self, path: str) -> str | None:
        if self._by_stamp is None:
            self._by_stamp = {}
            for id_, stamp in self.metadata.stamps().items():
                if stamp is not None:
                    self._by_stamp.setdefault(stamp, []).append(id_)
        stamp = image_stamp(path)
        if stamp is None:
            return None
        gone = [id_ for id_ in self._by_stamp.get(stamp, ()) if file_stamp(self.metadata.path(id_)) is None]
        return gone[0] if len(gone) == 1 else None
