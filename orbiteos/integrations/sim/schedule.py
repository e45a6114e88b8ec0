"""Site-local time for the simulator: seconds of the day, weekday and daily schedules.

The physics runs on UTC timestamps (floats); profiles, sessions and tariffs are written in the
site's wall-clock time. `SiteTime` converts cheaply by caching the UTC offset per quarter hour
(every time zone changes its offset on a quarter-hour boundary).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

import voluptuous as vol

from orbiteos.validation import found, time_of_day_value

DAY_S = 86_400.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_GROUPS = {"all": range(7), "weekdays": range(5), "weekend": range(5, 7)}


def seconds_of_day(value: Any) -> float:
    """'HH:MM[:SS]' (or an unquoted YAML sexagesimal) -> seconds since midnight.

    A float is taken as seconds already (what this returns), so validating twice is harmless.
    """
    if isinstance(value, float) and 0.0 <= value < DAY_S:
        return value
    moment = time_of_day_value(value)
    return moment.hour * 3600.0 + moment.minute * 60.0 + moment.second


def weekdays(value: Any) -> frozenset[int]:
    """`[mon, tue]`, `weekdays`, `weekend` or `all` -> weekday numbers (Monday = 0)."""
    if isinstance(value, frozenset):
        return value
    items = value if isinstance(value, list) else [value]
    days: set[int] = set()
    for item in items:
        name = str(item).strip().lower()[:8]
        if name in _DAY_GROUPS:
            days.update(_DAY_GROUPS[name])
        elif name[:3] in WEEKDAYS:
            days.add(WEEKDAYS.index(name[:3]))
        else:
            raise vol.Invalid(
                f"expected weekday names (mon..sun), 'weekdays', 'weekend' or 'all', found {found(item)}"
            )
    return frozenset(days)


ALL_DAYS = frozenset(range(7))


class SiteTime:
    """Converts UTC timestamps to the site's wall-clock day, second of day and weekday."""

    __slots__ = ("_tz", "_offset", "_valid_from", "_valid_until")

    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self._offset = 0.0
        self._valid_from = 1.0
        self._valid_until = 0.0

    def local(self, ts: float) -> float:
        """Seconds since 1970-01-01 00:00 in site wall-clock time."""
        if not self._valid_from <= ts < self._valid_until:
            offset = datetime.fromtimestamp(ts, UTC).astimezone(self._tz).utcoffset()
            self._offset = offset.total_seconds() if offset else 0.0
            self._valid_from = (ts // 900.0) * 900.0
            self._valid_until = self._valid_from + 900.0
        return ts + self._offset

    def split(self, ts: float) -> tuple[int, float, int]:
        """(local day number, seconds of the day, weekday with Monday = 0)."""
        local = self.local(ts)
        day = int(local // DAY_S)
        return day, local - day * DAY_S, (day + 3) % 7  # 1970-01-01 was a Thursday


def daily_value(entries: list[tuple[float, frozenset[int], float]], second: float, weekday: int,
                default: float) -> float:
    """The value of the latest entry starting at or before `second` that applies on `weekday`.

    `entries` is sorted by start; before the day's first entry the previous applicable entry
    (wrapping to the end of the list) still holds, as a tariff table does across midnight.
    """
    value = None
    for start, days, entry_value in entries:
        if weekday not in days:
            continue
        if start <= second:
            value = entry_value
        elif value is None:
            break
    if value is not None:
        return value
    for _start, days, entry_value in reversed(entries):
        if (weekday - 1) % 7 in days:
            return entry_value
    return default
