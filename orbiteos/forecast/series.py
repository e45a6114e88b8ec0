"""A horizon of equal slots, and the `forecast: [{start, end, value}, ...]` attribute shape that
Home Assistant price integrations publish, both ways."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any


@dataclass(frozen=True)
class Horizon:
    """`count` slots of `slot` from `start` (a slot boundary)."""

    start: datetime
    slot: timedelta
    count: int

    @classmethod
    def from_now(cls, now: datetime, slot: timedelta, length: timedelta) -> Horizon:
        """The horizon starting at the slot that contains `now`."""
        seconds = slot.total_seconds()
        start_ts = math.floor(now.timestamp() / seconds) * seconds
        start = datetime.fromtimestamp(start_ts, now.tzinfo)
        return cls(start, slot, max(1, round(length / slot)))

    def slot_start(self, index: int) -> datetime:
        return self.start + index * self.slot

    @property
    def end(self) -> datetime:
        return self.start + self.count * self.slot

    def starts_ts(self) -> list[float]:
        first, step = self.start.timestamp(), self.slot.total_seconds()
        return [first + i * step for i in range(self.count)]


def _moment(value: Any, tz: tzinfo) -> float | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def parse_entries(raw: Any, tz: tzinfo) -> list[tuple[float, float, float]]:
    """`[{start, end, value}]` (ISO strings or datetimes; `end` optional: up to the next start or an
    hour) -> sorted (start ts, end ts, value); entries that are not of that shape are skipped."""
    if not isinstance(raw, list | tuple):
        return []
    parsed: list[tuple[float, float | None, float]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        start = _moment(item.get("start"), tz)
        try:
            value = float(item.get("value"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if start is None or not math.isfinite(value):
            continue
        parsed.append((start, _moment(item.get("end"), tz), value))
    parsed.sort(key=lambda e: e[0])
    result = []
    for index, (start, end, value) in enumerate(parsed):
        if end is None:
            end = parsed[index + 1][0] if index + 1 < len(parsed) else start + 3600.0
        if end > start:
            result.append((start, end, value))
    return result


def values_of(entries: Iterable[tuple[float, float, float]], horizon: Horizon,
              fallback: float | None) -> list[float | None]:
    """Per slot, the time-weighted mean of the entries covering it; where none covers any of the
    slot, `fallback` (a slot partly covered takes the covered part's mean)."""
    starts = horizon.starts_ts()
    step = horizon.slot.total_seconds()
    sums = [0.0] * horizon.count
    covered = [0.0] * horizon.count
    first = starts[0] if starts else 0.0
    for start, end, value in entries:
        i = max(0, int((start - first) // step))
        while i < horizon.count and starts[i] < end:
            overlap = min(end, starts[i] + step) - max(start, starts[i])
            if overlap > 0:
                sums[i] += value * overlap
                covered[i] += overlap
            i += 1
    return [sums[i] / covered[i] if covered[i] > 0 else fallback for i in range(horizon.count)]


def entries_of(horizon: Horizon, values: Iterable[float], digits: int = 3) -> list[dict[str, Any]]:
    """Per-slot values -> the `forecast` attribute list (ISO times in the horizon's time zone)."""
    return [
        {"start": horizon.slot_start(i).isoformat(), "end": horizon.slot_start(i + 1).isoformat(),
         "value": round(float(value), digits) + 0.0}
        for i, value in enumerate(values)
    ]
