"""Load forecast: a profile by weekday and time of day learnt from the site's history (recorded
and live), corrected by how far the last hour ran from it (a correction that fades with the lead)."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, tzinfo

from orbiteos.forecast.series import Horizon


def _is_weekend(weekday: int) -> bool:
    return weekday >= 5


class LoadForecaster:
    """A profile per (weekday, slot of the day), falling back to the same kind of day (weekday or
    weekend), then to any day, then to the last measured level."""

    def __init__(self, tz: tzinfo, slot_s: float, learning_rate: float = 0.5, recent_slots: int = 4,
                 fade_hours: float = 1.5) -> None:
        self.tz = tz
        self.slot_s = slot_s
        self.learning_rate = learning_rate
        self.fade_hours = fade_hours
        # ("weekday", weekday, slot), ("kind", is weekend, slot), ("any", slot) -> mean kW
        self.table: dict[tuple[object, ...], float] = {}
        self.residuals: deque[float] = deque(maxlen=recent_slots)
        self.last_kw: float | None = None

    def _key(self, ts: float) -> tuple[int, int]:
        local = datetime.fromtimestamp(ts, self.tz)
        second = local.hour * 3600 + local.minute * 60 + local.second
        return local.weekday(), int(second // self.slot_s)

    def _keys(self, ts: float) -> tuple[tuple[object, ...], ...]:
        """The profile's keys for `ts`, most specific first."""
        weekday, slot = self._key(ts)
        return ("weekday", weekday, slot), ("kind", _is_weekend(weekday), slot), ("any", slot)

    def profile(self, ts: float) -> float | None:
        for key in self._keys(ts):
            value = self.table.get(key)
            if value is not None:
                return value
        return None

    def learn(self, start_ts: float, mean_kw: float | None, live: bool = True) -> None:
        """A slot starting at `start_ts` closed with mean load `mean_kw`."""
        if mean_kw is None or not math.isfinite(mean_kw):
            return
        if live:
            expected = self.profile(start_ts)
            self.residuals.append(0.0 if expected is None else mean_kw - expected)
            self.last_kw = mean_kw
        rate = self.learning_rate
        for key in self._keys(start_ts):
            old = self.table.get(key)
            self.table[key] = mean_kw if old is None else old + rate * (mean_kw - old)

    def forecast(self, horizon: Horizon) -> list[float]:
        residual = sum(self.residuals) / len(self.residuals) if self.residuals else 0.0
        seconds = horizon.slot.total_seconds()
        values = []
        for i, start in enumerate(horizon.starts_ts()):
            expected = self.profile(start)
            if expected is None:
                values.append(self.last_kw or 0.0)
                continue
            weight = math.exp(-(i + 0.5) * seconds / 3600.0 / self.fade_hours)
            values.append(max(0.0, expected + residual * weight))
        return values
