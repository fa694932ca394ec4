"""Where photos were taken: the GPS position a phone or camera writes into a photo's EXIF, named after the nearest
town of 5,000 people or more within `NEAR_KM` (GeoNames' towns, `places.tsv.gz`: "Lyon, France", "Austin, Texas,
United States"). A place is named by any of its parts or several in order ("Lyon", "Texas", "France", "Paris,
France"), and "or" joins places ("Lyon or Grenoble"); a city of 250,000 people or more by its other names too
("Wien", "München": `Towns.spelt_otherwise`). A city's name also names the smaller towns in its area (`AREA_KM`):
"Paris" finds the photos named after Boulogne-Billancourt too."""

from __future__ import annotations

import difflib
import gzip
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cbir.errors import UnknownWordsError

NEAR_KM = 100  # farther than this from any town (at sea, in the wilderness), a position names no place
EARTH_KM = 6371.0
# a city of AREA_PEOPLE or more has an area: AREA_KM times the square root of its millions of people around it (Paris,
# 2.1 million: 14.6 km; Lyon, 0.5 million: 7.2 km), whose towns a third of its size or smaller its name names too
AREA_PEOPLE, AREA_KM, AREA_SHARE = 100_000, 10.0, 3


def gps_position(gps: Mapping) -> str:
    """An EXIF GPS directory's position as "LAT,LON" in degrees (5 decimals: about a metre), or "" when it has none
    (missing, malformed, out of range, or a camera's blank 0,0)."""
    try:
        lat, lon = (_degrees(gps[value], gps.get(ref)) for ref, value in ((1, 2), (3, 4)))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return ""
    return position_text(lat, lon)


def position_text(lat: float, lon: float) -> str:
    """A position as stored: "LAT,LON" in degrees (5 decimals: about a metre); "" where it is out of range (or not
    a number) or the blank 0,0 cameras and services write for none."""
    if not (abs(lat) <= 90 and abs(lon) <= 180) or (lat == 0 and lon == 0):  # NaN fails the first test
        return ""
    return f"{lat:.5f},{lon:.5f}"


def _degrees(dms, ref) -> float:
    """Degrees, minutes, seconds (or degrees alone) and a hemisphere letter as signed degrees."""
    parts = [float(v) for v in (dms if isinstance(dms, (tuple, list)) else (dms,))]
    value = sum(v / 60 ** i for i, v in enumerate(parts[:3]))
    return -value if str(ref).strip("\x00 ").upper() in ("S", "W") else value


def coordinates(position: str | None) -> tuple[float, float] | None:
    """(latitude, longitude) of a stored position, None where there is none."""
    if not position:
        return None
    lat, lon = position.split(",")
    return float(lat), float(lon)


def _unit(lat_lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere of (n, 2) latitudes and longitudes in degrees."""
    lat, lon = np.radians(lat_lon[:, 0]), np.radians(lat_lon[:, 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)


class Towns:
    """The towns places are named after: each one's name ("Lyon, France"), where it is and how many people live
    there, the most populous first."""

    def __init__(self, names: list[str], lat_lon: np.ndarray, people: np.ndarray,
                 aliases: Mapping[str, list[int]] | None = None):
        from scipy.spatial import cKDTree

        self.names, self.lat_lon, self.people = names, lat_lon, people
        self.aliases = aliases or {}  # another name of a city, folded -> the cities it names
        self._tree = cKDTree(_unit(lat_lon))
        self._first: dict[str, int] = {}  # a name -> its most populous town (a city's parts are named as the city)
        for i, name in enumerate(names):
            self._first.setdefault(name, i)
        self._cities = [(i, _parts(names[i])) for i in np.flatnonzero(people >= AREA_PEOPLE)]

    @classmethod
    @cache
    def load(cls) -> Towns:
        with gzip.open(Path(__file__).with_name("places.tsv.gz"), "rt", encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
        aliases: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            for alias in row[6].split("|") if len(row) > 6 else ():
                aliases.setdefault(alias, []).append(i)
        return cls([", ".join(part for part in row[:3] if part) for row in rows],
                   np.array([(float(row[3]), float(row[4])) for row in rows]),
                   np.array([int(row[5]) for row in rows]), aliases)

    def spelt_otherwise(self, wanted: str) -> list[str]:
        """The cities named by the text where its first part is another name of theirs ("Wien", "Wien, Austria"),
        as they are named here ("Vienna, Austria")."""
        first, *rest = _parts(wanted) or ("",)
        return [self.names[i] for i in self.aliases.get(first, ())
                if not rest or _in_order(tuple(rest), _parts(self.names[i])[1:])]

    def in_areas(self, wanted: str, places: Iterable[str]) -> set[str]:
        """Those of `places` (town names) in the area of a city that `wanted` names (`AREA_KM`): within its reach
        and a third of its size or smaller."""
        named = _parts(wanted)
        cities = [i for i, parts in self._cities if _in_order(named, parts)]
        towns = {place: self._first[place] for place in places if place in self._first}
        if not cities or not towns:
            return set()
        at = np.array(list(towns.values()))
        km = EARTH_KM * np.arccos(np.clip(_unit(self.lat_lon[at]) @ _unit(self.lat_lon[cities]).T, -1.0, 1.0))
        reach = AREA_KM * np.sqrt(self.people[cities] / 1e6)
        smaller = self.people[at][:, None] * AREA_SHARE <= self.people[cities][None, :]
        inside = ((km <= reach[None, :]) & smaller).any(axis=1)
        return {place for place, yes in zip(towns, inside) if yes}

    def named(self, wanted: str) -> int | None:
        """The most populous town a name names (by its parts in order, "Paris" or "Paris, Texas"; a city by its other
        names too); None for none."""
        found = [self.names.index(name) for name in self.spelt_otherwise(wanted)]
        parts = _parts(wanted)
        return min(found, default=None) if found else next(
            (i for i, name in enumerate(self.names) if _in_order(parts, _parts(name))), None)

    def nearest(self, lat_lon: np.ndarray) -> list[str | None]:
        """The name of the town nearest each (latitude, longitude), None where none is within `NEAR_KM`."""
        if not len(lat_lon):
            return []
        chord, found = self._tree.query(_unit(np.asarray(lat_lon, np.float64)))
        near = 2 * math.sin(NEAR_KM / EARTH_KM / 2)
        return [self.names[i] if d <= near else None for d, i in zip(chord, found)]


def located(text: str) -> str:
    """A position from a town's name (its middle: "Lyon", "Paris, Texas") or from coordinates ("45.764,4.8357"), as
    positions are kept; an error with the towns that may be meant for a name none bears."""
    numbers = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*", text)
    if numbers:
        position = position_text(float(numbers.group(1)), float(numbers.group(2)))
        if not position:
            raise UnknownWordsError(f"a position is a latitude (-90 to 90) and a longitude (-180 to 180), other than "
                                    f"0,0 (cameras' blank), not '{text}'", field="place")
        return position
    towns = Towns.load()
    found = towns.named(text)
    if found is None:
        raise unknown(f"no town is named '{text.strip()}'", text,
                      {fold(name.split(",")[0]): name.split(",")[0] for name in reversed(towns.names)}, "place")
    return position_text(*towns.lat_lon[found])


def places_of(positions: Mapping[str, tuple[float, float]]) -> dict[str, str]:
    """id -> the place each image was taken at, of those (`positions`: id -> latitude, longitude) near a town."""
    if not positions:
        return {}  # the towns are not even read
    names = Towns.load().nearest(np.array(list(positions.values())))
    return {id_: name for id_, name in zip(positions, names) if name}


def fold(text: str) -> str:
    """Text compared without case, accents or extra spaces ("Zürich " -> "zurich")."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


def _parts(text: str) -> tuple[str, ...]:
    return tuple(part for part in (fold(p) for p in text.split(",")) if part)


def _names(place: str, text: str) -> bool:
    """Whether the parts of `text` are parts of `place`, in the same order ("Paris, France" in "Paris, France";
    "Texas" in "Austin, Texas, United States")."""
    return _in_order(_parts(text), _parts(place))


def _in_order(wanted: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Whether the `wanted` parts are some of `parts`, in the same order."""
    remaining = iter(parts)
    return bool(wanted) and all(part in remaining for part in wanted)


def split_place(text: str) -> tuple[str, str]:
    """Words and the place they end with, after "in", "near" or "at" ("dog in Lyon" -> ("dog", "Lyon"); "near
    Paris, France" -> ("", "Paris, France")), or the words and "" where they end with none."""
    found = re.fullmatch(r"(.*)(?:^|\s)(?:in|near|at)\s+(\S.*?)\s*", text, re.IGNORECASE | re.DOTALL)  # the last
    return (found.group(1).strip(), found.group(2)) if found else (text.strip(), "")


def places_named(text: str, places: Iterable[str]) -> frozenset[str]:
    """Those of `places` that the text names (any of the places it joins with "or"), and those in the area of a city
    it names (`Towns.in_areas`); an error with the places meant when one names none of them."""
    places = set(places)
    if not places:
        raise UnknownWordsError("none of the images has a GPS position near a town (phones and cameras write one into "
                                "a photo's EXIF when their location setting is on)", field="place")
    named: set[str] = set()
    for wanted in (w for w in re.split(r"\bor\b|\|", text, flags=re.IGNORECASE) if w.strip()):
        found = set()
        for spelt in [wanted, *Towns.load().spelt_otherwise(wanted)]:
            found |= {place for place in places if _names(place, spelt)} | Towns.load().in_areas(spelt, places)
        if not found:
            raise unknown(f"no image was taken near '{wanted.strip()}'", wanted,
                          {fold(part): part.strip() for place in places for part in place.split(",")}, "place",
                          f" (places: {', '.join(sorted(places)[:5])}{'...' if len(places) > 5 else ''})")
        named |= found
    return frozenset(named)


def unknown(message: str, wanted: str, known: Mapping[str, str], field: str, otherwise: str = "") -> UnknownWordsError:
    """The error for `wanted`, which names none of the `known` (folded -> as shown): the `message` and those of them
    it may mean, else `otherwise`."""
    meant = [known[m] for m in difflib.get_close_matches(fold(wanted), list(known), n=3, cutoff=0.6)]
    said = f": did you mean {' or '.join(repr(m) for m in meant)}?" if meant else otherwise
    return UnknownWordsError(message + said, meant, field)


class Place(NamedTuple):
    """A place a collection's photos were taken at: how many, and the newest of them (an id)."""

    place: str
    images: int
    example: str


def overview(places: Mapping[str, str], newest_first: list[str]) -> list[Place]:
    """The places of a collection's photos (`places`: id -> place), the most photographed first, each with its
    newest photo (`newest_first`: the ids by date)."""
    return [Place(*row) for row in counted({id_: (place,) for id_, place in places.items()}, newest_first)]


def counted(found: Mapping[str, Iterable[str]], newest_first: list[str]) -> list[tuple[str, int, str]]:
    """(value, how many ids have it, the newest of them) for each value of `found` (id -> its values), the most
    frequent first, then by name (case and accents ignored); `newest_first`: the ids by date."""
    counts = Counter(value for values in found.values() for value in values)
    example: dict[str, str] = {}
    for id_ in newest_first:
        for value in found.get(id_, ()):
            example.setdefault(value, id_)
    return [(value, n, example[value]) for value, n in sorted(counts.items(), key=lambda kv: (-kv[1], fold(kv[0])))]
