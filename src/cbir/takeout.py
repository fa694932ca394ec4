"""Google Photos Takeout: what Google Photos knew of each photo, in a JSON file beside it, and its albums, as folders.

A Takeout of Google Photos holds a folder a year ("Photos from 2019") with every photo, and a folder an album, named
after it, holding a `metadata.json` (the album's title; named in the account's language in some exports:
`ALBUM_FILES`) and copies of the album's photos. Beside each photo lies `NAME.EXT.supplemental-metadata.json`
(`NAME.EXT.json` before 2024): its name cut to `LONGEST_NAME` characters (`PXL_…jpg.supplement.json`), a second
file of one name numbered after the JSON's own stem (`IMG_1(1).jpg`: `IMG_1.jpg.supplemental-metadata(1).json`),
and none for a photo edited in Google Photos (`IMG_1-edited.jpg`, `-bearbeitet`, `-modifié`: the original's is its).

Read from it (`google_facts`): when the photo was taken (`photoTakenTime`, UTC, given in this computer's time zone
as a file's time is), where (`geoData`: the photo's own GPS position, or one put right or added in Google Photos),
the people named in it (as tags, as a photo manager's named faces are; and the faces `cbir faces` finds, though not
where each is: `cbir.faces.Faces.name_the_rest`), whether it is a favourite (`FAVOURITES`, an album), whether it was
archived (the album `ARCHIVED`) and whether it was in the bin (left out). A photo's own EXIF date, the local time
where it was taken, is kept where it lies within `SAME_DAY` of Google's: further, the date was put right in Google
Photos. An album folder's copy of a photo beside it (`album_copies`) is left out of the collection, the photo put in
the album in its place (`albums_of`). Nothing is written to a photo or its JSON.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from cbir.albums import ARCHIVED, FAVOURITES, LONGEST_NAME as LONGEST_ALBUM
from cbir.places import position_text
from cbir.tags import SIDECAR_BYTES, caption_text, modified, sidecar_files

SUPPLEMENTAL = ".supplemental-metadata"
LONGEST_NAME = 51  # characters of a Takeout's JSON file name at most, ".json" included
EDITED = ("-edited", "-bearbeitet", "-modifié", "-modifie", "-editado", "-modificato", "-bewerkt", "-redigerad",
          "-muokattu", "-redigeret", "-edytowane", "-upraveno", "-編集済み", "-편집됨")
ALBUM_FILES = frozenset({"metadata.json", "métadonnées.json", "metadatos.json", "metadades.json", "metadaten.json",
                         "metadati.json", "metadados.json", "metagegevens.json", "metadane.json"})
SAME_DAY = 26 * 3600  # seconds: the most two clocks on Earth differ by (UTC+14 and UTC-12)

_NUMBERED = re.compile(r"^(.*)\((\d+)\)(\.[^.()]*)?$")  # IMG_1(1).jpg: IMG_1, 1, .jpg
_TILDE = re.compile(r"^(.*)~\d+(\.[^.]*)?$")  # IMG_1~2.jpg: IMG_1, .jpg


class GoogleFacts(NamedTuple):
    """What a Takeout's JSON says of a photo: when it was taken (ISO 8601, this computer's local time; None where
    it does not say), where ("LAT,LON", "" for nowhere), who is in it (names), whether it is a favourite, whether
    it was in the bin when the Takeout was made, its caption ("" for none), and whether it was archived."""

    taken: str | None
    position: str
    people: tuple[str, ...]
    favourite: bool
    trashed: bool = False
    caption: str = ""
    archived: bool = False

    def date_over(self, own: str | None) -> str | None:
        """The date to keep, given the photo's own EXIF date: the EXIF's unless Google's lies more than `SAME_DAY`
        from it (put right in Google Photos) or the photo has none."""
        if own is None or self.taken is None:
            return own or self.taken
        try:
            apart = abs((datetime.fromisoformat(own) - datetime.fromisoformat(self.taken)).total_seconds())
        except (ValueError, TypeError):  # no date as dates are kept: the photo's own stands
            return own
        return own if apart <= SAME_DAY else self.taken


def json_names(name: str) -> Iterator[str]:
    """The names a Takeout may have given the JSON of a file called `name`, the likeliest first."""
    stem, ext = os.path.splitext(name)
    bases = [(name, "")]
    if numbered := _NUMBERED.match(name):
        bases.append((numbered[1] + (numbered[3] or ""), f"({numbered[2]})"))
    if tilde := _TILDE.match(name):
        bases.append((tilde[1] + (tilde[2] or ""), ""))
    bases += [(stem[:-len(edit)] + ext, "") for edit in EDITED if stem.casefold().endswith(edit)]
    for base, number in bases:
        longest = LONGEST_NAME - len(".json") - len(number)
        full = base + SUPPLEMENTAL
        for cut in range(min(len(full), longest), min(len(base), longest) - 1, -1):
            yield full[:cut] + number + ".json"


def google_sidecar(path: str) -> str | None:
    """The JSON file a Google Photos Takeout keeps beside a photo (`json_names`), where there is one."""
    folder, name = os.path.split(path)
    found = sidecar_files(folder)
    return next((found[n] for n in map(str.casefold, json_names(name)) if n in found), None)


def google_facts(path: str) -> GoogleFacts | None:
    """What the Takeout JSON beside a photo says of it; None where none lies there, or it is no Takeout's."""
    if (beside := google_sidecar(path)) is None:
        return None
    try:
        stat = os.stat(beside)
    except OSError:
        return None
    return _read(beside, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _read(path: str, size: int, mtime: int) -> GoogleFacts | None:
    """`google_facts` from the JSON at `path`, as it was at that size and time (read once while the collection is
    listed, and again for its facts)."""
    try:
        with open(path, "rb") as f:
            said = json.loads(f.read(SIDECAR_BYTES))
    except (OSError, ValueError):
        return None
    if not isinstance(said, dict) or not isinstance(said.get("photoTakenTime", said.get("creationTime")), dict):
        return None
    return GoogleFacts(_taken(said), _position(said.get("geoData")), _people(said.get("people")),
                       said.get("favorited") is True, said.get("trashed") is True,
                       caption_text(said["description"]) if isinstance(said.get("description"), str) else "",
                       said.get("archived") is True)


def _taken(said: dict) -> str | None:
    try:
        seconds = int(said["photoTakenTime"]["timestamp"])
        return datetime.fromtimestamp(seconds).isoformat(timespec="seconds") if seconds > 0 else None
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _position(geo) -> str:
    try:
        return position_text(float(geo["latitude"]), float(geo["longitude"]))
    except (KeyError, TypeError, ValueError):
        return ""


def _people(people) -> tuple[str, ...]:
    if not isinstance(people, list):
        return ()
    return tuple(p["name"] for p in people if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"])


def album_of(folder: str) -> str | None:
    """The title of the Takeout album a folder is (its `ALBUM_FILES`), where it is one."""
    return _album_title(folder, modified(folder))


@lru_cache(maxsize=1024)
def _album_title(folder: str, mtime: int | None) -> str | None:
    for name, path in sidecar_files(folder).items():
        if name in ALBUM_FILES:
            try:
                with open(path, "rb") as f:
                    said = json.loads(f.read(SIDECAR_BYTES))
            except (OSError, ValueError):
                continue
            if isinstance(said, dict) and isinstance(said.get("title"), str) and said["title"].strip():
                return " ".join(said["title"].split())[:LONGEST_ALBUM]
    return None


def is_takeout(names: Iterable[str]) -> bool:
    """Whether an archive holding these members (paths) is a Takeout of Google Photos, with its JSON files."""
    return any(name.startswith("Takeout/") and name.endswith(".json") for name in names)


def trashed(path: str) -> bool:
    """Whether a Takeout's JSON says the photo was in the bin when the Takeout was made (no part of a collection)."""
    return (said := google_facts(path)) is not None and said.trashed


def album_copies(media: Iterable[str]) -> dict[str, str]:
    """The files of these (paths) in a Takeout's album folders that are copies of one in a folder beside them that
    is no album (a year's: the same name and size), each -> that one."""
    media = list(media)
    albums = {folder for folder in {os.path.dirname(path) for path in media} if album_of(folder) is not None}
    if not albums:
        return {}
    beside: dict[tuple[str, str], list[str]] = {}
    for path in media:
        folder, name = os.path.split(path)
        if folder not in albums:
            beside.setdefault((os.path.dirname(folder), name), []).append(path)
    copies = {}
    for path in media:
        folder, name = os.path.split(path)
        if folder in albums and (twin := next((other for other in beside.get((os.path.dirname(folder), name), ())
                                               if _size(other) == _size(path)), None)):
            copies[path] = twin
    return copies


def albums_of(paths: Mapping[str, str], is_media: Callable[[str], bool]) -> dict[str, list[str]]:
    """The albums a Takeout puts these images (id -> path) in: those of the album folders they lie in, or whose
    copies lie there (`album_copies`), `FAVOURITES` for its favourites and `ARCHIVED` for those archived
    (`google_facts`); album -> ids."""
    by_path = {path: id_ for id_, path in paths.items()}
    under: dict[str, list[str]] = {}  # each folder of folders -> the images' paths two levels below it
    for path in by_path:
        under.setdefault(os.path.dirname(os.path.dirname(path)), []).append(path)
    found: dict[str, list[str]] = {}
    for parent, indexed in under.items():
        held = {album: photos for album in _albums_in(parent) if (photos := _media_in(album, is_media))}
        copies = album_copies([path for photos in held.values() for path in photos] + indexed)
        for album, photos in held.items():
            found.setdefault(album_of(album), []).extend(
                by_path[target] for path in photos if (target := copies.get(path, path)) in by_path)
    said = {id_: facts for id_, path in paths.items() if (facts := google_facts(path)) is not None}
    for album, marked in ((FAVOURITES, "favourite"), (ARCHIVED, "archived")):
        if ids := [id_ for id_, facts in said.items() if getattr(facts, marked)]:
            found.setdefault(album, []).extend(ids)
    return {album: ids for album, ids in found.items() if ids}


def _albums_in(folder: str) -> list[str]:
    """The Takeout album folders in a folder."""
    try:
        with os.scandir(folder or ".") as entries:
            return [e.path for e in entries if e.is_dir() and album_of(e.path) is not None]
    except OSError:
        return []


def _media_in(folder: str, is_media: Callable[[str], bool]) -> list[str]:
    """The paths of the photos and videos in a folder, sorted."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.path for e in entries if is_media(e.name))
    except OSError:
        return []


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None
