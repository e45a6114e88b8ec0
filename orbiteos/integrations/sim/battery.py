"""A battery and its inverter: SoC within limits, conversion losses, ageing, heat, and a hybrid
inverter's self-consumption mode when nobody gives it a setpoint.

Signs: power is positive when discharging (delivering to the site), negative when charging.
"""

from __future__ import annotations

import math
from typing import Any

import voluptuous as vol

from orbiteos.validation import number_in_range, string


def _soc_limits_ordered(config: dict[str, Any]) -> dict[str, Any]:
    if not config["soc_min"] < config["soc_max"]:
        raise vol.Invalid(
            f"expected soc_min < soc_max, found soc_min {config['soc_min']} and soc_max {config['soc_max']}",
            path=["soc_min"],
        )
    initial = config.get("initial_soc")
    if initial is not None and not config["soc_min"] <= initial <= config["soc_max"]:
        raise vol.Invalid(
            f"expected initial_soc between soc_min and soc_max, found {initial}", path=["initial_soc"]
        )
    return config


SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("name", default="main"): string,
            vol.Required("capacity_kwh"): number_in_range(0.1, 1_000_000.0),
            vol.Required("max_charge_kw"): number_in_range(0.0, 1_000_000.0),
            vol.Required("max_discharge_kw"): number_in_range(0.0, 1_000_000.0),
            vol.Optional("round_trip_efficiency", default=0.9): number_in_range(0.5, 1.0),
            vol.Optional("soc_min", default=10.0): number_in_range(0.0, 100.0),
            vol.Optional("soc_max", default=95.0): number_in_range(0.0, 100.0),
            vol.Optional("initial_soc"): number_in_range(0.0, 100.0),
            vol.Optional("taper_soc", default=90.0): number_in_range(0.0, 100.0),
            vol.Optional("soh", default=100.0): number_in_range(1.0, 100.0),
            vol.Optional("fade_per_cycle", default=0.004): number_in_range(0.0, 1.0),
            vol.Optional("thermal_mass_kj_per_k", default=30_000.0): number_in_range(1.0),
            vol.Optional("cooling_w_per_k", default=150.0): number_in_range(0.0),
            vol.Optional("derate_above_c", default=45.0): number_in_range(-20.0, 100.0),
            vol.Optional("shutdown_above_c", default=55.0): number_in_range(-20.0, 120.0),
        }
    ),
    _soc_limits_ordered,
)


class Battery:
    """Energy in the cells, power at the AC terminals; each direction loses sqrt(round trip)."""

    def __init__(self, config: dict[str, Any], ambient_c: float) -> None:
        self.name: str = config["name"]
        self.capacity_kwh = float(config["capacity_kwh"])
        self.max_charge_kw = float(config["max_charge_kw"])
        self.max_discharge_kw = float(config["max_discharge_kw"])
        self.efficiency = math.sqrt(float(config["round_trip_efficiency"]))
        self.soc_min = float(config["soc_min"])
        self.soc_max = float(config["soc_max"])
        self.taper_soc = float(config["taper_soc"])
        self.soh = float(config["soh"])
        self.fade_per_cycle = float(config["fade_per_cycle"])
        self.thermal_mass_j_per_k = float(config["thermal_mass_kj_per_k"]) * 1000.0
        self.cooling_w_per_k = float(config["cooling_w_per_k"])
        self.derate_above_c = float(config["derate_above_c"])
        self.shutdown_above_c = max(float(config["shutdown_above_c"]), self.derate_above_c + 1.0)
        initial_soc = config.get("initial_soc")
        soc = float(initial_soc) if initial_soc is not None else (self.soc_min + self.soc_max) / 2.0
        self.stored_kwh = self.usable_capacity_kwh * soc / 100.0
        self.setpoint_kw: float | None = None  # None: self-consumption (auto)
        # The watchdog: seconds the setpoint is held without being renewed, then back to auto.
        self.revert_in_s: float | None = None
        self.ownership: dict[str, Any] = {}
        self.power_kw = 0.0
        self.temperature_c = ambient_c
        self.charged_kwh = 0.0  # AC energy in
        self.discharged_kwh = 0.0  # AC energy out
        self.cycles = 0.0
        self.faded_kwh = 0.0  # stored energy lost to capacity fade
        self.quiet = False  # a battery always has news (its temperature, at least)

    @property
    def usable_capacity_kwh(self) -> float:
        return self.capacity_kwh * self.soh / 100.0

    @property
    def soc(self) -> float:
        return self.stored_kwh / self.usable_capacity_kwh * 100.0

    def set_power(self, power_kw: float) -> None:
        self.setpoint_kw = float(power_kw)

    def auto(self) -> None:
        self.setpoint_kw = None

    def _thermal_derating(self) -> float:
        if self.temperature_c <= self.derate_above_c:
            return 1.0
        span = self.shutdown_above_c - self.derate_above_c
        return max(0.0, 1.0 - (self.temperature_c - self.derate_above_c) / span)

    def limits_kw(self, dt: float) -> tuple[float, float]:
        """(most it can charge, most it can discharge) this step, both >= 0 kW."""
        hours = max(dt, 1e-6) / 3600.0
        capacity = self.usable_capacity_kwh
        stored_min = capacity * self.soc_min / 100.0
        stored_max = capacity * self.soc_max / 100.0
        derate = self._thermal_derating()
        # Constant-voltage phase: charge power falls linearly from taper_soc to soc_max.
        soc = self.soc
        taper = 1.0
        if soc > self.taper_soc and self.soc_max > self.taper_soc:
            taper = max(0.05, (self.soc_max - soc) / (self.soc_max - self.taper_soc))
        room_kwh = max(0.0, stored_max - self.stored_kwh)
        reserve_kwh = max(0.0, self.stored_kwh - stored_min)
        charge = min(self.max_charge_kw * derate * taper, room_kwh / (self.efficiency * hours))
        discharge = min(self.max_discharge_kw * derate, reserve_kwh * self.efficiency / hours)
        return charge, discharge

    def step(self, dt: float, site_demand_kw: float, ambient_c: float) -> float:
        """Run one step; `site_demand_kw` is what the site would draw from the grid without us."""
        if self.revert_in_s is not None:
            self.revert_in_s -= dt
            if self.revert_in_s <= 0.0:
                self.revert_in_s = None
                self.setpoint_kw = None
        requested = self.setpoint_kw if self.setpoint_kw is not None else site_demand_kw
        max_charge, max_discharge = self.limits_kw(dt)
        power = min(max_discharge, max(-max_charge, requested))
        hours = dt / 3600.0
        capacity = self.usable_capacity_kwh
        if power >= 0.0:
            cell_kwh = -power / self.efficiency * hours
            self.discharged_kwh += power * hours
        else:
            cell_kwh = -power * self.efficiency * hours
            self.charged_kwh += -power * hours
        stored = self.stored_kwh + cell_kwh
        # The power was limited to keep within the SoC window; this only absorbs rounding.
        if cell_kwh > 0.0:
            stored = min(stored, capacity * self.soc_max / 100.0)
        elif cell_kwh < 0.0:
            stored = max(stored, capacity * self.soc_min / 100.0)
        cycles = abs(cell_kwh) / (2.0 * self.capacity_kwh)
        self.cycles += cycles
        if cycles and self.fade_per_cycle:
            # Capacity fade keeps the SoC: the faded share of the stored energy is gone.
            new_soh = max(1.0, self.soh - self.fade_per_cycle * cycles)
            faded = stored * (1.0 - new_soh / self.soh)
            self.faded_kwh += faded
            stored -= faded
            self.soh = new_soh
        self.stored_kwh = stored
        loss_w = abs(power) * (1.0 / self.efficiency - 1.0 if power >= 0 else 1.0 - self.efficiency) * 1000.0
        heat_w = loss_w - self.cooling_w_per_k * (self.temperature_c - ambient_c)
        self.temperature_c += heat_w * dt / self.thermal_mass_j_per_k
        self.power_kw = power
        return power

    def attributes(self) -> dict[str, Any]:
        return {
            "soc": round(self.soc * 1e2) / 1e2,
            "soh": round(self.soh * 1e3) / 1e3,
            "capacity_kwh": self.capacity_kwh,
            "max_charge_kw": self.max_charge_kw,
            "max_discharge_kw": self.max_discharge_kw,
            "setpoint_kw": None if self.setpoint_kw is None else round(self.setpoint_kw * 1e3) / 1e3,
            "mode": "auto" if self.setpoint_kw is None else "manual",
            "cycles": round(self.cycles * 1e4) / 1e4,
            "temperature_c": round(self.temperature_c * 1e1) / 1e1,
            "charged_kwh": round(self.charged_kwh * 1e3) / 1e3,
            "discharged_kwh": round(self.discharged_kwh * 1e3) / 1e3,
            "soc_min": self.soc_min,
            "soc_max": self.soc_max,
            "unit_of_measurement": "kW",
            **self.ownership,
        }
