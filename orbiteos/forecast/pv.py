"""PV forecast: clear-sky plane-of-array power of each array, scaled by how much of it the arrays
delivered lately (a clearness ratio that fades, over the lead time, into its long-run mean).

The clear-sky model is the simulator's own (`orbiteos.integrations.sim.solar_position`: NOAA sun
position, Meinel beam, isotropic diffuse); tests/forecast/test_pv.py shows it agrees with pvlib's
Ineichen clear sky and Hay-Davies plane-of-array model for the demo site.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from orbiteos.forecast.series import Horizon
from orbiteos.integrations.sim.solar_position import ClearSkyTable


@dataclass(frozen=True)
class PVArraySpec:
    entity_id: str
    peak_power_kw: float
    tilt: float
    azimuth: float
    latitude: float
    longitude: float
    derate: float = 0.88  # inverter, wiring, heat and soiling losses at clear sky


class ClearSkyPower:
    """The arrays' total AC power on a clear day, kW."""

    def __init__(self, arrays: list[PVArraySpec]) -> None:
        self.arrays = [(spec, ClearSkyTable(spec.latitude, spec.longitude, spec.tilt, spec.azimuth, 300))
                       for spec in arrays]
        self.peak_kw = sum(spec.peak_power_kw for spec in arrays)

    def at(self, ts: float) -> float:
        return sum(spec.peak_power_kw * table.at(ts)[0] / 1000.0 * spec.derate for spec, table in self.arrays)

    def mean(self, start_ts: float, seconds: float, samples: int = 4) -> float:
        """The mean over [start, start + seconds), from `samples` midpoints."""
        step = seconds / samples
        return sum(self.at(start_ts + (i + 0.5) * step) for i in range(samples)) / samples


class PVForecaster:
    """Learns the clearness ratio (measured / clear sky) slot by slot; forecasts per slot."""

    def __init__(self, model: ClearSkyPower, clearness: float = 0.7, recent_slots: int = 4,
                 fade_hours: float = 2.0, learning_rate: float = 0.03) -> None:
        self.model = model
        self.long_run = clearness  # the mean ratio, learnt across days
        self.recent: deque[tuple[float, float]] = deque(maxlen=recent_slots)  # (measured, clear sky) kWh
        self.fade_hours = fade_hours
        self.learning_rate = learning_rate

    def observe(self, start_ts: float, seconds: float, measured_kw: float | None) -> None:
        """A slot closed: `measured_kw` was its mean output (None: unknown)."""
        if measured_kw is None:
            return
        clear = self.model.mean(start_ts, seconds)
        if clear < 0.02 * self.model.peak_kw:  # night and dawn say nothing about the clouds
            return
        self.recent.append((measured_kw, clear))
        ratio = min(1.5, max(0.0, measured_kw / clear))
        self.long_run += self.learning_rate * (ratio - self.long_run)

    def clearness_now(self) -> float:
        clear = sum(c for _m, c in self.recent)
        if clear <= 0:
            return self.long_run
        return min(1.5, max(0.0, sum(m for m, _c in self.recent) / clear))

    def forecast(self, horizon: Horizon) -> list[float]:
        now_ratio = self.clearness_now()
        seconds = horizon.slot.total_seconds()
        values = []
        for i, start in enumerate(horizon.starts_ts()):
            lead_h = (i + 0.5) * seconds / 3600.0
            weight = math.exp(-lead_h / self.fade_hours)
            ratio = self.long_run + (now_ratio - self.long_run) * weight
            values.append(max(0.0, self.model.mean(start, seconds) * ratio))
        return values
