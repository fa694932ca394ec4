"""When pictures were taken, said by hand (`Engine.set_dates`): a moment as people write it, and a camera's clock put
right by a duration (a camera left on its home time abroad, two cameras out of step at one wedding)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from cbir.errors import CbirError

_DURATION = re.compile(r"([+-])(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def moment(text: str) -> str:
    """A moment as given ("2019-07-14", "2019-07-14 10:30", "2019-07-14T10:30:05"), as dates are kept: ISO 8601 to
    the second."""
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=None).isoformat(timespec="seconds")
    except ValueError:
        raise CbirError(f"a moment is such as 2019-07-14 or 2019-07-14T10:30, not '{text}'") from None


def duration(text: str) -> timedelta:
    """A signed duration in days, hours, minutes and seconds ("+3h", "-1d2h30m", "+45s")."""
    found = _DURATION.fullmatch(text.strip())
    if not found or not any(found.groups()[1:]):
        raise CbirError(f"a shift is a sign and days, hours, minutes or seconds (+3h, -1d2h30m, +45s), not '{text}'")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups()[1:])
    delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return -delta if found.group(1) == "-" else delta


def moved(date: str, delta: timedelta) -> str:
    """A date kept (ISO 8601) moved by a duration, as dates are kept."""
    return (datetime.fromisoformat(date) + delta).isoformat(timespec="seconds")
