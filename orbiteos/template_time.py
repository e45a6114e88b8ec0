"""Template time helpers of Home Assistant 2024.3 that need no hub: `as_timedelta` and the wording of
`relative_time`.

`as_timedelta` reads a duration written as a clock (`"01:30:00"`, `"1 day, 2:00:00"`, `"90"`
seconds), as ISO 8601 (`"PT1H30M"`, `"-P1DT2H"`), or as PostgreSQL writes an interval
(`"3 days 04:05:06"`); anything else gives None, as in Home Assistant.
"""

from __future__ import annotations

import re
from datetime import timedelta

_NUMBER = r"\d+(?:[.,]\d+)?"
_ISO = re.compile(
    rf"(?P<sign>[-+]?)P(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?"
)
# `[D day[s][,] ][sign][[H:]M:]S[.fraction]`: the form str(timedelta) writes, and PostgreSQL's.
_CLOCK = re.compile(
    r"(?:(?P<days>-?\d+) days?,? ?)?(?P<sign>[-+]?)"
    r"(?:(?:(?P<hours>\d+):)?(?P<minutes>\d+):)?(?P<seconds>\d+)(?:[.,](?P<fraction>\d{1,6})\d*)?"
)
_POSTGRES_DAYS = re.compile(r"(?P<days>-?\d+) days?")


def _number(text: str | None) -> float:
    return float(text.replace(",", ".")) if text else 0.0


def as_timedelta(value: str) -> timedelta | None:
    """The duration `value` writes, or None."""
    text = str(value)
    if text == "":
        return timedelta(0)  # an interval with no parts, as PostgreSQL's form reads it
    if match := _ISO.fullmatch(text):
        parts = match.groupdict()
        duration = timedelta(days=_number(parts["days"]), hours=_number(parts["hours"]),
                             minutes=_number(parts["minutes"]), seconds=_number(parts["seconds"]))
        return -duration if parts["sign"] == "-" else duration
    if match := _CLOCK.fullmatch(text):
        parts = match.groupdict()
        if parts["hours"] is not None and parts["minutes"] is None:
            return None
        if parts["sign"] == "+" and parts["hours"] is None:  # `+` only in PostgreSQL's H:MM:SS
            return None
        if parts["hours"] is None and parts["minutes"] is not None and text.count(":") > 1:
            return None
        clock = timedelta(hours=_number(parts["hours"]), minutes=_number(parts["minutes"]),
                          seconds=_number(parts["seconds"]),
                          microseconds=int((parts["fraction"] or "0").ljust(6, "0")))
        days = timedelta(days=int(parts["days"] or 0))
        return days + (-clock if parts["sign"] == "-" else clock)
    if match := _POSTGRES_DAYS.fullmatch(text):
        return timedelta(days=int(match["days"]))
    return None


def age(seconds: float) -> str:
    """`relative_time`'s wording: the largest whole unit only (`2 days`, `1 hour`, `59 seconds`)."""

    rounded = round(seconds)
    for unit, factor in (("second", 60), ("minute", 60), ("hour", 24), ("day", 30), ("month", 12)):
        if rounded < factor:
            return f"1 {unit}" if rounded == 1 else f"{rounded:d} {unit}s"
        seconds /= factor
        rounded = round(seconds)
    return "1 year" if rounded == 1 else f"{rounded:d} years"
