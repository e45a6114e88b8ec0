"""The site's own consumption: an hourly weekday/weekend profile with noise."""

from __future__ import annotations

import math
import random
from typing import Any

import voluptuous as vol

from orbiteos.validation import found, number_in_range, string

# Share of the way from base to peak load, hour by hour (00:00 .. 23:00).
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "office": (
        (0, 0, 0, 0, 0, 0.05, 0.25, 0.6, 0.95, 1.0, 0.9, 0.85, 0.9, 0.85, 0.8, 0.75, 0.7, 0.5, 0.25, 0.1, 0.05,
         0, 0, 0),
        (0.02,) * 24,
    ),
    "residential": (
        (0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.4, 0.6, 0.35, 0.2, 0.15, 0.15, 0.2, 0.15, 0.15, 0.2, 0.35, 0.7, 1.0,
         0.9, 0.75, 0.5, 0.3, 0.15),
        (0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.5, 0.55, 0.5, 0.45, 0.5, 0.4, 0.35, 0.35, 0.45, 0.7, 0.95,
         1.0, 0.8, 0.55, 0.3, 0.15),
    ),
    "flat": ((1.0,) * 24, (1.0,) * 24),
}


def _hourly(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or len(value) != 24:
        raise vol.Invalid(f"expected a list of 24 hourly values in kW, found {found(value)}")
    return tuple(number_in_range(0.0)(v) for v in value)


def _phase_shares(value: Any) -> tuple[float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise vol.Invalid(f"expected three shares for L1, L2, L3, found {found(value)}")
    shares = [number_in_range(0.0)(v) for v in value]
    total = sum(shares)
    if total <= 0:
        raise vol.Invalid("expected phase shares that add up to more than 0")
    return (shares[0] / total, shares[1] / total, shares[2] / total)


SCHEMA = vol.Schema(
    {
        vol.Optional("name", default="site_load"): string,
        vol.Optional("profile", default="office"): vol.In(sorted(PROFILES), msg=f"expected one of {sorted(PROFILES)}"),
        vol.Optional("base_kw", default=5.0): number_in_range(0.0),
        vol.Optional("peak_kw", default=30.0): number_in_range(0.0),
        vol.Optional("weekday"): _hourly,
        vol.Optional("weekend"): _hourly,
        vol.Optional("noise", default=0.05): number_in_range(0.0, 1.0),
        vol.Optional("phase_shares", default=[0.36, 0.33, 0.31]): _phase_shares,
    }
)

_NOISE_TAU_S = 120.0


class SiteLoad:
    """kW = hourly profile (linear between the hours) x (1 + mean-reverting noise)."""

    def __init__(self, config: dict[str, Any], rng: random.Random) -> None:
        self.name: str = config["name"]
        base, peak = float(config["base_kw"]), float(config["peak_kw"])
        weekday_shares, weekend_shares = PROFILES[config["profile"]]
        self.weekday = config.get("weekday") or tuple(base + (peak - base) * s for s in weekday_shares)
        self.weekend = config.get("weekend") or tuple(base + (peak - base) * s for s in weekend_shares)
        self.noise = float(config["noise"])
        self.phase_shares: tuple[float, float, float] = tuple(config["phase_shares"])  # type: ignore[assignment]
        self._rng = rng
        self._deviation = 0.0
        self.power_kw = 0.0
        self.energy_kwh = 0.0

    def profile_kw(self, second_of_day: float, weekday: int) -> float:
        hours = self.weekday if weekday < 5 else self.weekend
        position = second_of_day / 3600.0
        hour = int(position) % 24
        frac = position - int(position)
        return hours[hour] + (hours[(hour + 1) % 24] - hours[hour]) * frac

    def step(self, dt: float, second_of_day: float, weekday: int) -> float:
        if self.noise:
            decay = min(1.0, dt / _NOISE_TAU_S)
            shock = self.noise * math.sqrt(2.0 * decay) * self._rng.gauss(0.0, 1.0)
            self._deviation += -self._deviation * decay + shock
        power = max(0.0, self.profile_kw(second_of_day, weekday) * (1.0 + self._deviation))
        self.power_kw = power
        self.energy_kwh += power * dt / 3600.0
        return power

    def attributes(self) -> dict[str, Any]:
        return {
            "energy_kwh": round(self.energy_kwh * 1e3) / 1e3,
            "unit_of_measurement": "kW",
            "device_class": "power",
        }
