"""Where a collection's pictures were taken, as a map to look at: a dot a place, its area the number of pictures
taken there, each a link to them; around them, faintly, the towns of 5,000 people or more (`cbir.places.Towns`),
which draw the land and its cities without a map's tiles (nothing is fetched). The view fits the places (a plate
carrée, its longitudes shrunk by the cosine of its middle latitude, as they are on the ground); places more than half
the world apart, or on both sides of the 180th meridian, are drawn on the whole world's width."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from cbir.places import Towns

WIDTH = 960  # the drawing's own units (it scales to the page)
HEIGHTS = (200, 480)  # the fewest and the most: a view wider or taller than that is widened or heightened to fit
MIN_SPAN = 1.5  # degrees of latitude at least in view (about 170 km): a single town still shows its surroundings
TOWNS_DRAWN = 3000  # the most populous towns in view, at most
LABELLED = 8  # places named on the map, at most (the others, and those whose names would cover another's, in titles)
LETTER = 8.5  # a label's letter's width, on average
RADII = (3.0, 14.0)  # the smallest dot and the largest
SPOTS = 1000  # places drawn at most: the most photographed


@dataclass(frozen=True)
class Spot:
    """A place on the map: its name, how many pictures were taken there, where they are on the drawing, its dot's
    radius, and where its name is written beside it."""

    place: str
    count: int
    x: float
    y: float
    r: float
    label_x: float | None  # where its name starts, None: not written

    @property
    def label(self) -> str:
        return _label(self.place)


@dataclass(frozen=True)
class PlaceMap:
    spots: list[Spot]
    towns: str  # an SVG path of a small square a town
    height: int
    places: int  # of which `spots` are the most photographed


def place_map(places: Mapping[str, str], positions: Mapping[str, tuple[float, float]]) -> PlaceMap | None:
    """The map of where the pictures were taken (`places`: id -> place; `positions`: id -> latitude, longitude), each
    place's dot where its pictures were taken on average; None when fewer than two places hold pictures."""
    taken: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for id_, place in places.items():
        taken[place].append(positions[id_])
    if len(taken) < 2:
        return None
    centres = {place: (sum(p[0] for p in at) / len(at), sum(p[1] for p in at) / len(at)) for place, at in taken.items()}
    lats, lons = [c[0] for c in centres.values()], [c[1] for c in centres.values()]
    world = max(lons) - min(lons) > 180  # more than half the world apart (or across the 180th meridian): all of it
    middle = (min(lats) + max(lats)) / 2
    shrink = max(math.cos(math.radians(middle)), 0.1)  # a degree of longitude's length, in degrees of latitude
    lat_span = max((max(lats) - min(lats)) * 1.25, MIN_SPAN)
    lon_span = 360.0 if world else max((max(lons) - min(lons)) * 1.25, MIN_SPAN / shrink)
    height = lat_span / (lon_span * shrink) * WIDTH
    if world and height < HEIGHTS[0]:  # heighten the view to a drawable shape
        lat_span, height = lon_span * shrink * HEIGHTS[0] / WIDTH, HEIGHTS[0]
    elif not world and not HEIGHTS[0] <= height <= HEIGHTS[1]:  # widen or heighten it
        height = min(max(height, HEIGHTS[0]), HEIGHTS[1])
        wide, tall = lon_span * shrink * height / WIDTH, lat_span * WIDTH / height / shrink
        lat_span, lon_span = max(lat_span, wide), max(lon_span, tall)
    north = (max(lats) + min(lats) + lat_span) / 2
    west = -180.0 if world else (max(lons) + min(lons) - lon_span) / 2
    scale = WIDTH / lon_span

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (lon - west) * scale, (north - lat) * scale / shrink

    most = max(len(at) for at in taken.values())
    ranked = sorted(taken, key=lambda place: (-len(taken[place]), place))[:SPOTS]
    dots = [(place, len(taken[place]), *xy(*centres[place]),
             RADII[0] + (RADII[1] - RADII[0]) * math.sqrt(len(taken[place]) / most)) for place in ranked]
    taken_room = [(x - r, y - r, x + r, y + r) for _, _, x, y, r in dots]  # what a label may not cover
    spots = []
    for place, count, x, y, r in dots:  # each label right of its dot, else left, where it covers no other
        width = LETTER * len(_label(place)) + 2
        sides = [(x + r + 2, y - 11, x + r + 2 + width, y + 6), (x - r - 2 - width, y - 11, x - r - 2, y + 6)]
        hidden = any(math.hypot(x - spot.x, y - spot.y) < spot.r for spot in spots)  # under a bigger dot
        free = [box for box in sides if box[0] >= 0 and box[2] <= WIDTH and not hidden
                and not any(_overlap(box, other) for other in taken_room)]
        side = free[0] if free and sum(spot.label_x is not None for spot in spots) < LABELLED else None
        if side:
            taken_room.append(side)
        spots.append(Spot(place, count, x, y, r, side[0] + 1 if side else None))
    towns = Towns.load()
    squares = []
    for lat, lon in towns.lat_lon:  # the most populous first
        x, y = xy(lat, lon)
        if 0 <= x <= WIDTH and 0 <= y <= height:
            squares.append(f"M{x:.0f} {y:.0f}h2.5v2.5h-2.5z")
            if len(squares) == TOWNS_DRAWN:
                break
    return PlaceMap(spots[::-1], "".join(squares), round(height), len(taken))  # the biggest dots drawn last, on top


def _label(place: str) -> str:
    """A place's name on the map: its town's."""
    return place.split(",")[0]


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
