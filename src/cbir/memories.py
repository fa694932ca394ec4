"""On this day: the photos taken on today's date in earlier years, a year at a time, the latest first (a photo of
29 February is remembered on 28 February in the years without one)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from typing import NamedTuple


class Memory(NamedTuple):
    """The photos of one earlier year taken on today's date: the day (ISO), how many, and the first of them (an id)."""

    day: str
    images: int
    example: str


def on_this_day(dated: Iterable[tuple[str, str | None]], today: date) -> list[Memory]:
    """The photos (`dated`: (id, ISO date) pairs) taken on `today`'s month and day in earlier years, the latest year
    first."""
    days = {f"{today.month:02d}-{today.day:02d}"}
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.add("02-29")
    year = f"{today.year:04d}"
    found: dict[str, list[tuple[str, str]]] = {}
    for id_, taken in dated:
        if taken and taken[5:10] in days and taken[:4] < year:
            found.setdefault(taken[:10], []).append((taken, id_))
    return [Memory(day, len(taken), min(taken)[1]) for day, taken in sorted(found.items(), reverse=True)]
