"""The site's sky and air: passing clouds and a daily temperature curve, shared by every PV array."""

from __future__ import annotations

import math
import random
from typing import Any

import voluptuous as vol

from orbiteos.validation import number_in_range

SCHEMA = vol.Schema(
    {
        vol.Optional("cloudiness", default=0.3): number_in_range(0.0, 1.0),
        vol.Optional("cloud_dwell_s", default=90.0): number_in_range(1.0, 3600.0),
        vol.Optional("temperature_min_c", default=5.0): number_in_range(-40.0, 50.0),
        vol.Optional("temperature_max_c", default=15.0): number_in_range(-40.0, 60.0),
    }
)

_EDGE_S = 8.0  # a cloud edge takes a few seconds to cross a PV field
_COVER_TAU_S = 1800.0
_COVER_SD = 0.15


class Weather:
    """Cloud cover as a mean-reverting process around `cloudiness`, with the sun hidden by
    individual clouds a fraction `cover` of the time (redrawn about every `cloud_dwell_s`)."""

    def __init__(self, config: dict[str, Any], rng: random.Random) -> None:
        self.mean_cover = float(config["cloudiness"])
        self.dwell_s = float(config["cloud_dwell_s"])
        self.t_min = float(config["temperature_min_c"])
        self.t_max = float(config["temperature_max_c"])
        self._rng = rng
        self.cover = self.mean_cover
        self.sun_hidden = False
        self.beam_factor = 1.0
        self.diffuse_factor = 1.0
        self.ambient_c = (self.t_min + self.t_max) / 2.0

    def step(self, dt: float, second_of_day: float) -> None:
        rng = self._rng
        if self.mean_cover > 0.0:
            drift = (self.mean_cover - self.cover) * min(1.0, dt / _COVER_TAU_S)
            shock = _COVER_SD * math.sqrt(2.0 * dt / _COVER_TAU_S) * rng.gauss(0.0, 1.0)
            self.cover = min(1.0, max(0.0, self.cover + drift + shock))
            if rng.random() < dt / self.dwell_s:
                self.sun_hidden = rng.random() < self.cover
        else:
            self.cover = 0.0
            self.sun_hidden = False
        # A hidden sun leaves the diffuse light; thick cover dims the diffuse light as well.
        target = 0.0 if self.sun_hidden else 1.0 - 0.3 * self.cover
        self.beam_factor += (target - self.beam_factor) * min(1.0, dt / _EDGE_S)
        self.diffuse_factor = 1.0 - 0.5 * self.cover**3
        # Warmest at 15:00, coldest twelve hours away.
        phase = math.cos((second_of_day / 3600.0 - 15.0) / 24.0 * 2.0 * math.pi)
        self.ambient_c = self.t_min + (self.t_max - self.t_min) * (phase + 1.0) / 2.0
