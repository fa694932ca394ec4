"""Trips: the runs of photos taken away from home, found from when and where they were taken (`cbir.places`).

Home is the place photographed on the most days, where those days span more than `HOME_DAYS` (a collection of
holidays alone has none: each of its photos is away). A photo taken more than `AWAY_KM` from home (the mean position
of its photos) is away; away photos, by when they were taken, make one trip while no photo taken at home comes between
them and no more than `GAP_DAYS` days pass between two of them. A trip of `FEWEST` photos or more is named after its
most photographed places ("Annecy, Chamonix-Mont-Blanc and Geneva") and offered with its first and last days, whose
photos a look through the images with those dates shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from cbir.places import EARTH_KM

AWAY_KM = 50  # farther than this from home is away
GAP_DAYS = 3  # more days than this without a photo end a trip
HOME_DAYS = 31  # the days a place is photographed on span more than this, first to last, to be home
FEWEST = 5  # photos that make a trip
NAMED = 3  # places a trip is named after


class Trip(NamedTuple):
    """A trip: its name (its most photographed places), its first and last days (ISO dates), how many photos were
    taken on it and one of them (an id: the first taken at its most photographed place)."""

    name: str
    since: str
    until: str
    images: int
    example: str


def trips(dates: Mapping[str, str | None], places: Mapping[str, str],
          positions: Mapping[str, tuple[float, float]]) -> list[Trip]:
    """The trips of a collection (`dates`: id -> ISO date; `places`: id -> place; `positions`: id -> latitude,
    longitude), the latest first. Photos without a date or a position take no part; none without places."""
    located = sorted((dates[id_], id_) for id_ in positions if dates.get(id_))
    days = Counter((place, date[:10]) for date, id_ in located if (place := places.get(id_)) is not None)
    if not days:
        return []
    home = Counter(place for place, _ in days).most_common(1)[0][0]
    spanned = sorted(day for place, day in days if place == home)
    if np.datetime64(spanned[-1]) - np.datetime64(spanned[0]) > np.timedelta64(HOME_DAYS, "D"):
        at_home = [positions[id_] for _, id_ in located if places.get(id_) == home]
        centre = np.mean(np.array(at_home), axis=0)
        away = _km(np.array([positions[id_] for _, id_ in located]), centre) > AWAY_KM
    else:  # no home: holidays' photos alone, every run of them a trip
        away = np.ones(len(located), bool)
    seconds = np.array([date for date, _ in located], dtype="datetime64[s]").astype(np.int64)
    found, run, last = [], [], 0
    for (date, id_), is_away, now in zip(located, away, seconds.tolist()):
        if run and (not is_away or now - last > GAP_DAYS * 86400):
            found.append(run)
            run = []
        if is_away:
            run.append((date, id_))
            last = now
    found.append(run)
    return [_trip(run, places) for run in reversed(found) if len(run) >= FEWEST]


def _trip(run: list[tuple[str, str]], places: Mapping[str, str]) -> Trip:
    counts = Counter(places[id_] for _, id_ in run if id_ in places)
    named = [place.split(",")[0] for place, _ in counts.most_common(NAMED)]
    name = (", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0] if named
            else "far from any town")
    first = counts.most_common(1)[0][0] if counts else None
    example = next((id_ for _, id_ in run if places.get(id_) == first), run[0][1])
    return Trip(name, run[0][0][:10], run[-1][0][:10], len(run), example)


def _km(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Great-circle distances in km from (latitude, longitude) points to a centre (haversine)."""
    lat, lon = np.radians(points[:, 0]), np.radians(points[:, 1])
    lat0, lon0 = np.radians(centre)
    a = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat) * np.cos(lat0) * np.sin((lon - lon0) / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))

