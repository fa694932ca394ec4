"""Albums: named sets of indexed images a user puts together (on the page, the API, the command line or in Python),
kept in the engine folder (`ALBUMS`), never in the photos. An album's images keep the order they were put in; a
name is matched without case or accents ("rome" finds "Rome"). Images moved or edited keep their albums, images
removed leave them, and an album with no image left is gone. An album is also a filter of every search, and the
photos that may belong in it are those most like a few of its own (`Engine.search_album`): each scored with the mean
of its `BEST_OF` best similarities to the album's images, which ranks better than its best one alone (one
look-alike) and than the album's mean (no picture at all, where an album of one trip holds beaches, streets and
dinners): docs/results/quality.md. An album may be shared by a link (`Albums.share`): whoever has it sees that album's
photos, and nothing else, on the page `cbir serve` gives, without its password; until a day, where one is given
(`Link.until`), and without where they were taken unless that is given too (`Link.places`: `cbir.web.unplaced`).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import NamedTuple

from cbir.errors import CbirError
from cbir.places import fold

ALBUMS = "albums.json"  # in an engine's version folder
BEST_OF = 3  # an image's best similarities to an album's images averaged: how much it may belong there
RESCORED = 10  # times k: the images most like one of an album's own, scored by `BEST_OF`
LONGEST_NAME = 100  # characters
SECRET_BYTES = 16  # of an album's link (`Albums.share`): 128 random bits, not to be guessed
FAVOURITES = "Favorites"  # the album of one's favourites: the page's ♡, a Takeout's favourites (Google's name)
ARCHIVED = "Archive"  # the album of photos kept out of the timeline (`Albums.archived`), as Google Photos' archive


class Album(NamedTuple):
    """An album: its name, how many images it holds, and the first of them (its cover)."""

    name: str
    images: int
    cover: str


class Link(NamedTuple):
    """An album's link: its secret, the last day it works (ISO 8601; None: until it is no longer shared), and whether
    the photos it gives say where they were taken."""

    secret: str
    until: str | None = None
    places: bool = False

    @classmethod
    def of(cls, kept: str | Mapping | Link) -> Link:
        """A link as `Albums.save` keeps it (a secret alone: a link made before 0.4.15, which gave the places)."""
        if isinstance(kept, Link):
            return kept
        return cls(kept, None, True) if isinstance(kept, str) else cls(kept["secret"], kept["until"], kept["places"])

    def works(self, today: str) -> bool:
        return self.until is None or today <= self.until


def link_fields(link: Link | None, address: Callable[[str], str]) -> dict:
    """An album's link in JSON: its address (`address(secret)`), last day and whether it gives where the photos were
    taken; each null where the album is not shared."""
    return {"shared": address(link.secret) if link else None, "shared_until": link.until if link else None,
            "shared_places": link.places if link else None}


def last_day(given: str | None) -> str | None:
    """A link's last day as given (ISO 8601: 2027-01-31), checked; None for none."""
    if not given:
        return None
    try:
        return date.fromisoformat(given.strip()).isoformat()
    except ValueError:
        raise CbirError(f"a link's last day is a day such as 2027-01-31, not '{given}'") from None


def today() -> str:
    """The server's date, ISO 8601: a link's last day is compared with it (tests set it)."""
    return date.today().isoformat()


class Albums:
    """Album name -> its image ids, in the order they were put in; and the albums shared by a link: name -> the
    link (`share`)."""

    def __init__(self, albums: Mapping[str, Iterable[str]] | None = None,
                 shared: Mapping[str, str | Mapping | Link] | None = None):
        self._albums = {name: list(dict.fromkeys(ids)) for name, ids in (albums or {}).items()}
        self._albums = {name: ids for name, ids in self._albums.items() if ids}
        self._shared = {name: Link.of(link) for name, link in (shared or {}).items() if name in self._albums}
        self._of: dict[str, tuple[str, ...]] | None = None  # image -> its albums, worked out when first asked for

    def __bool__(self) -> bool:
        return bool(self._albums)

    def __len__(self) -> int:
        return len(self._albums)

    def copy(self) -> Albums:
        return Albums(self._albums, self._shared)

    def share(self, name: str, until: str | None = None, places: bool = False) -> Link:
        """Share an album by a link, until a day (ISO 8601, that day included; None: until `unshare`), its photos
        saying where they were taken or not (`places`): the link, its secret `SECRET_BYTES` random bytes as URL-safe
        text, the one it has where it is shared already (its day and places as given now; a link past its last day
        gets a new secret, its old one working no more)."""
        name = self.named(name)
        if until is not None and until < today():
            raise CbirError(f"a link until {until} would have stopped working already (today is {today()})")
        known = self._shared.get(name)
        secret = known.secret if known and known.works(today()) else secrets.token_urlsafe(SECRET_BYTES)
        self._shared[name] = Link(secret, until, places)
        return self._shared[name]

    def unshare(self, name: str) -> bool:
        """Stop sharing an album: its link leads nowhere from now on (sharing it again makes a new one). Returns
        whether it was shared."""
        return self._shared.pop(self.named(name), None) is not None

    def link(self, name: str) -> Link | None:
        """An album's link, where it is shared (one past its last day too)."""
        return self._shared.get(self.named(name))

    def shared_by(self, secret: str) -> tuple[str, Link] | None:
        """The album a link's secret shares, and the link; None for none, and for a link past its last day (compared
        in constant time, each secret whole)."""
        found = [(name, link) for name, link in self._shared.items()
                 if hmac.compare_digest(link.secret.encode(), secret.encode())]
        return found[0] if found and found[0][1].works(today()) else None

    def overview(self) -> list[Album]:
        """Every album, by name."""
        return [Album(name, len(ids), ids[0]) for name, ids in sorted(self._albums.items(), key=lambda a: fold(a[0]))]

    def find(self, name: str) -> str | None:
        """The album a name means (case and accents ignored), as it is spelt; None where there is none."""
        wanted = fold(name)
        return next((album for album in self._albums if fold(album) == wanted), None)

    def named(self, name: str) -> str:
        """The album a name means (`find`); an error that lists the albums where there is none."""
        if (album := self.find(name)) is not None:
            return album
        known = ", ".join(a.name for a in self.overview()[:20])
        raise CbirError(f"there is no album '{name}': " + (f"the albums are {known}" if known else "none was made yet"))

    def of(self, image: str) -> tuple[str, ...]:
        """The albums an image is in, by name."""
        if self._of is None:
            of: dict[str, list[str]] = {}
            for album in self.overview():
                for member in self._albums[album.name]:
                    of.setdefault(member, []).append(album.name)
            self._of = {member: tuple(names) for member, names in of.items()}
        return self._of.get(image, ())

    def archived(self) -> frozenset[str]:
        """The images in the album `ARCHIVED`: left out of looking through the images without a filter (the
        timeline), "On this day" and the start page's examples, found by any search or filter as the others."""
        name = self.find(ARCHIVED)
        return frozenset(self._albums[name]) if name else frozenset()

    def images(self, name: str) -> list[str]:
        """The images of an album, in the order they were put in."""
        return list(self._albums[self.named(name)])

    def showing(self, name: str) -> frozenset[str]:
        """The images of an album (as `named` finds it)."""
        return frozenset(self._albums[self.named(name)])

    def add(self, name: str, images: Iterable[str]) -> int:
        """Put images in an album (made when there is none of that name); returns how many were not in it yet."""
        self._of = None
        name = self.find(name) or _name(name)
        album = self._albums.setdefault(name, [])
        present = set(album)
        new = [image for image in dict.fromkeys(images) if image not in present]
        album += new
        if not album:
            del self._albums[name]
        return len(new)

    def remove(self, name: str, images: Iterable[str]) -> int:
        """Take images out of an album; returns how many were in it. An album left empty is gone."""
        self._of = None
        name, gone = self.named(name), set(images)
        before = len(self._albums[name])
        self._albums[name] = [image for image in self._albums[name] if image not in gone]
        removed = before - len(self._albums[name])
        if not self._albums[name]:
            del self._albums[name]
            self._shared.pop(name, None)
        return removed

    def rename(self, name: str, new: str) -> str:
        """Give an album another name (one of another album's: the two are one, its images after that one's);
        returns the name it has now."""
        self._of = None
        name, new = self.named(name), _name(new)
        images = self._albums.pop(name)
        target = self.find(new) or new
        there = self._albums.setdefault(target, [])
        present = set(there)
        there += [image for image in images if image not in present]
        if (link := self._shared.pop(name, None)) is not None:  # its link shares it under its new name
            self._shared.setdefault(target, link)
        return target

    def delete(self, name: str) -> int:
        """Remove an album (its images stay indexed); returns how many it held."""
        self._of = None
        name = self.named(name)
        self._shared.pop(name, None)
        return len(self._albums.pop(name))

    def discard(self, images: Iterable[str]) -> None:
        """Forget images (removed from the engine): they leave their albums."""
        self._of = None
        gone = set(images)
        self._albums = {name: left for name, ids in self._albums.items() if (left := [i for i in ids if i not in gone])}
        self._shared = {name: link for name, link in self._shared.items() if name in self._albums}

    def moved(self, moves: Iterable[tuple[str, str, str]]) -> None:
        """Images indexed under new ids (`Engine.add_moved`: (new, path, old)) stay in their albums under them."""
        self._of = None
        renamed = {old: new for new, _, old in moves}
        self._albums = {name: list(dict.fromkeys(renamed.get(i, i) for i in ids)) for name, ids in self._albums.items()}

    def kept(self, images: Mapping[str, str]) -> None:
        """Only these images (old id -> new id), under their new ids: an engine indexed again keeps the albums of
        the photos it still holds."""
        self.discard(set().union(*self._albums.values()) - set(images))
        self.moved((new, "", old) for old, new in images.items())

    def save(self, path: Path) -> None:
        shared = {name: link._asdict() for name, link in self._shared.items()}
        path.write_text(json.dumps({"albums": self._albums, "shared": shared}, ensure_ascii=False, indent=1),
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Albums:
        said = json.loads(path.read_text(encoding="utf-8"))
        return cls(said["albums"], said.get("shared"))


def _name(name: str) -> str:
    """An album's name as given, spaces tidied; one empty or too long is an error."""
    name = " ".join(name.split())
    if not name:
        raise CbirError("an album needs a name")
    if len(name) > LONGEST_NAME:
        raise CbirError(f"an album's name is at most {LONGEST_NAME} characters; this one has {len(name)}")
    return name
