"""The grid connection meter: the site's balance per phase, energy counters, frequency, voltage.

Signs: power is positive when importing from the grid, negative when exporting.
"""

from __future__ import annotations

import math
import random
from typing import Any

import voluptuous as vol

from orbiteos.integrations.sim.schedule import seconds_of_day, weekdays
from orbiteos.validation import number_in_range, string

DISTURBANCE_SCHEMA = vol.Schema(
    {
        vol.Required("at"): seconds_of_day,
        vol.Required("frequency_hz"): number_in_range(40.0, 70.0),
        vol.Optional("duration", default=20.0): number_in_range(0.0, 86_400.0),
        vol.Optional("ramp_s", default=2.0): number_in_range(0.0, 600.0),
        vol.Optional("days", default="all"): weekdays,
    }
)

SCHEMA = vol.Schema(
    {
        vol.Optional("name", default="grid"): string,
        vol.Optional("voltage", default=230.0): number_in_range(100.0, 400.0),
        vol.Optional("impedance_ohm", default=0.05): number_in_range(0.0, 5.0),
        vol.Optional("frequency_hz", default=50.0): number_in_range(40.0, 70.0),
        vol.Optional("frequency_noise_hz", default=0.015): number_in_range(0.0, 1.0),
        vol.Optional("disturbances", default=[]): [DISTURBANCE_SCHEMA],
        vol.Optional("import_kwh", default=0.0): number_in_range(0.0),
        vol.Optional("export_kwh", default=0.0): number_in_range(0.0),
    }
)

_FREQUENCY_TAU_S = 30.0


class GridMeter:
    def __init__(self, config: dict[str, Any], rng: random.Random) -> None:
        self.name: str = config["name"]
        self.nominal_voltage = float(config["voltage"])
        self.impedance = float(config["impedance_ohm"])
        self.nominal_hz = float(config["frequency_hz"])
        self.noise_hz = float(config["frequency_noise_hz"])
        self.disturbances: list[dict[str, Any]] = list(config["disturbances"])
        self.import_kwh = float(config["import_kwh"])
        self.export_kwh = float(config["export_kwh"])
        self._rng = rng
        self._deviation_hz = 0.0
        self.power_kw = 0.0
        self.frequency_hz = self.nominal_hz
        self.phase_kw = (0.0, 0.0, 0.0)
        self.voltages = (self.nominal_voltage,) * 3
        self.currents = (0.0, 0.0, 0.0)

    def _disturbed_hz(self, base: float, second_of_day: float, weekday: int) -> float:
        for d in self.disturbances:
            into = second_of_day - d["at"]
            if into < 0.0 or weekday not in d["days"]:
                continue
            total = d["duration"] + 2.0 * d["ramp_s"]
            if into >= total:
                continue
            ramp = d["ramp_s"]
            depth = 1.0
            if ramp > 0.0:
                depth = min(1.0, into / ramp, (total - into) / ramp)
            return base + (d["frequency_hz"] - self.nominal_hz) * depth
        return base

    def step(self, dt: float, phase_kw: tuple[float, float, float], second_of_day: float, weekday: int) -> float:
        l1, l2, l3 = phase_kw
        power = l1 + l2 + l3
        self.power_kw = power
        self.phase_kw = phase_kw
        hours = dt / 3600.0
        if power >= 0.0:
            self.import_kwh += power * hours
        else:
            self.export_kwh -= power * hours
        if self.noise_hz:
            decay = min(1.0, dt / _FREQUENCY_TAU_S)
            shock = self.noise_hz * math.sqrt(2.0 * decay) * self._rng.gauss(0.0, 1.0)
            self._deviation_hz += -self._deviation_hz * decay + shock
        frequency = self.nominal_hz + self._deviation_hz
        if self.disturbances:
            frequency = self._disturbed_hz(frequency, second_of_day, weekday)
        self.frequency_hz = frequency
        # Importing pulls the voltage at the connection down, exporting pushes it up.
        v_nom, z = self.nominal_voltage, self.impedance
        i1, i2, i3 = l1 * 1000.0 / v_nom, l2 * 1000.0 / v_nom, l3 * 1000.0 / v_nom
        self.voltages = (v_nom - z * i1, v_nom - z * i2, v_nom - z * i3)
        self.currents = (abs(i1), abs(i2), abs(i3))
        return power

    def attributes(self) -> dict[str, Any]:
        (p1, p2, p3), (v1, v2, v3), (i1, i2, i3) = self.phase_kw, self.voltages, self.currents
        return {
            "import_kwh": round(self.import_kwh * 1e3) / 1e3,
            "export_kwh": round(self.export_kwh * 1e3) / 1e3,
            "frequency_hz": round(self.frequency_hz * 1e3) / 1e3,
            "voltage_l1": round(v1 * 1e1) / 1e1,
            "voltage_l2": round(v2 * 1e1) / 1e1,
            "voltage_l3": round(v3 * 1e1) / 1e1,
            "current_l1": round(i1 * 1e1) / 1e1,
            "current_l2": round(i2 * 1e1) / 1e1,
            "current_l3": round(i3 * 1e1) / 1e1,
            "power_l1": round(p1 * 1e3) / 1e3,
            "power_l2": round(p2 * 1e3) / 1e3,
            "power_l3": round(p3 * 1e3) / 1e3,
            "unit_of_measurement": "kW",
        }
