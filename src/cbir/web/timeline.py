"""When a collection's pictures were taken, as bars to look at: how many a month (or a year, over a long span), each
bar a link to those images, newest first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MONTHS_AT_MOST = 48  # a longer span is drawn by year
WIDTH, HEIGHT = 960, 72  # the drawing's own units (it scales to the page)


@dataclass(frozen=True)
class Bar:
    """One period's bar: its ISO period ("2019-07" or "2019"), how many pictures, and its place in the drawing."""

    period: str
    count: int
    x: float
    width: float
    height: float

    @property
    def y(self) -> float:
        return HEIGHT - self.height


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    undated: int

    @property
    def first(self) -> str:
        return self.bars[0].period

    @property
    def last(self) -> str:
        return self.bars[-1].period


def timeline(dates: Iterable[str | None]) -> Timeline | None:
    """The bars of when pictures were taken (ISO dates; None: undated), every period from the first to the last
    drawn (empty ones too, so that gaps show); None when fewer than two periods hold pictures."""
    dates = list(dates)
    months = Counter(date[:7] for date in dates if date)
    if len(months) < 2:
        return None
    periods = _months(min(months), max(months))
    if len(periods) > MONTHS_AT_MOST:
        years = Counter()
        for month, count in months.items():
            years[month[:4]] += count
        months, periods = years, [str(year) for year in range(int(min(years)), int(max(years)) + 1)]
    most, step = max(months.values()), WIDTH / len(periods)
    bars = [Bar(period, count, n * step, max(step - 1, 1), max(HEIGHT * count / most, 2) if count else 0)
            for n, period in enumerate(periods) for count in [months.get(period, 0)]]  # a few stay visible
    return Timeline(bars, sum(1 for date in dates if not date))


def _months(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` ("2019-11", "2019-12", "2020-01", ...)."""
    year, month = int(first[:4]), int(first[5:7])
    found = []
    while f"{year:04d}-{month:02d}" <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found
