"""A PV array and its inverter: clear-sky light on the panels, clouds, heat, MPP tracking, curtailment."""

from __future__ import annotations

import math
from typing import Any

import voluptuous as vol

from orbiteos.integrations.sim.solar_position import ClearSkyTable
from orbiteos.integrations.sim.weather import Weather
from orbiteos.validation import number_in_range, string

SCHEMA = vol.Schema(
    {
        vol.Optional("name", default="roof"): string,
        vol.Required("peak_power_kw"): number_in_range(0.1, 100_000.0),
        vol.Optional("inverter_kw"): number_in_range(0.1, 100_000.0),
        vol.Optional("tilt", default=30.0): number_in_range(0.0, 90.0),
        vol.Optional("azimuth", default=180.0): number_in_range(0.0, 360.0),
        vol.Optional("latitude"): number_in_range(-90.0, 90.0),
        vol.Optional("longitude"): number_in_range(-180.0, 180.0),
        vol.Optional("inverter_efficiency", default=0.97): number_in_range(0.5, 1.0),
        vol.Optional("system_losses", default=0.05): number_in_range(0.0, 0.5),
        vol.Optional("temperature_coefficient", default=-0.37): number_in_range(-2.0, 0.0),
        vol.Optional("noct_c", default=45.0): number_in_range(20.0, 80.0),
        vol.Optional("mpp_voltage", default=600.0): number_in_range(10.0, 1500.0),
        vol.Optional("open_circuit_voltage"): number_in_range(10.0, 1500.0),
        vol.Optional("initial_energy_kwh", default=0.0): number_in_range(0.0),
    }
)

_VOLTAGE_COEFFICIENT = -0.0029  # per K, crystalline silicon
_STANDBY_FRACTION = 0.002  # inverter's own use while producing, of its rating
_START_W_M2 = 5.0  # below this the inverter sleeps


class PVArray:
    """Power flows: irradiance -> DC at MPP (temperature-corrected) -> AC (efficiency, rating, limit)."""

    def __init__(self, config: dict[str, Any], latitude: float, longitude: float) -> None:
        self.name: str = config["name"]
        self.peak_kw = float(config["peak_power_kw"])
        self.inverter_kw = float(config.get("inverter_kw") or self.peak_kw)
        self.efficiency = float(config["inverter_efficiency"])
        self.losses = float(config["system_losses"])
        self.temp_coefficient = float(config["temperature_coefficient"]) / 100.0
        self.noct_c = float(config["noct_c"])
        self.mpp_voltage = float(config["mpp_voltage"])
        self.voc = float(config.get("open_circuit_voltage") or self.mpp_voltage * 1.2)
        self.table = ClearSkyTable(
            float(config.get("latitude", latitude)),
            float(config.get("longitude", longitude)),
            float(config["tilt"]),
            float(config["azimuth"]),
        )
        self.limit_kw = self.inverter_kw
        self.power_kw = 0.0
        self.available_kw = 0.0
        self.energy_kwh = float(config["initial_energy_kwh"])
        self.irradiance_w_m2 = 0.0
        self.temperature_c = 0.0
        self.dc_voltage = 0.0
        self.dc_current = 0.0
        # Asleep through a whole step (night): nothing new to write, as a sleeping inverter says nothing.
        self.quiet = False
        # SunSpec's WMaxLimPct_RvrtTms: seconds the limit is held without being renewed.
        self.revert_in_s: float | None = None
        self.ownership: dict[str, Any] = {}

    def set_limit(self, power_kw: float | None = None, percent: float | None = None) -> None:
        """Curtail to `power_kw`, or to `percent` of the inverter rating; never above the rating."""
        target = self.inverter_kw * percent / 100.0 if percent is not None else power_kw
        if target is None:
            raise ValueError("pv limit needs power_kw or percent")
        self.limit_kw = max(0.0, min(self.inverter_kw, target))

    def step(self, ts: float, dt: float, weather: Weather) -> float:
        if self.revert_in_s is not None:
            self.revert_in_s -= dt
            if self.revert_in_s <= 0.0:
                self.revert_in_s = None
                self.limit_kw = self.inverter_kw
        clear_total, clear_diffuse = self.table.at(ts)
        poa = (clear_total - clear_diffuse) * weather.beam_factor + clear_diffuse * weather.diffuse_factor
        self.irradiance_w_m2 = poa
        cell_c = weather.ambient_c + poa * (self.noct_c - 20.0) / 800.0
        self.temperature_c = cell_c
        if poa < _START_W_M2:
            self.quiet = self.power_kw == 0.0 and self.dc_voltage == 0.0
            self.available_kw = self.power_kw = 0.0
            self.dc_voltage = self.dc_current = 0.0
            return 0.0
        self.quiet = False
        dc_kw = self.peak_kw * poa / 1000.0 * (1.0 + self.temp_coefficient * (cell_c - 25.0)) * (1.0 - self.losses)
        standby_kw = self.inverter_kw * _STANDBY_FRACTION
        available = min(self.inverter_kw, max(0.0, dc_kw * self.efficiency - standby_kw))
        power = min(available, self.limit_kw)
        self.available_kw = available
        self.power_kw = power
        self.energy_kwh += power * dt / 3600.0
        mpp_v = self.mpp_voltage * (1.0 + _VOLTAGE_COEFFICIENT * (cell_c - 25.0)) * (
            1.0 + 0.05 * math.log(poa / 1000.0)
        )
        # Curtailed, the inverter walks off the MPP towards open-circuit voltage.
        off_mpp = 1.0 - power / available if available > 0.0 else 1.0
        self.dc_voltage = mpp_v + (max(self.voc, mpp_v) - mpp_v) * off_mpp
        self.dc_current = (power + standby_kw) / self.efficiency * 1000.0 / self.dc_voltage if power > 0 else 0.0
        return power

    def attributes(self) -> dict[str, Any]:
        return {
            "energy_kwh": round(self.energy_kwh * 1e3) / 1e3,
            "peak_power_kw": self.peak_kw,
            "inverter_kw": self.inverter_kw,
            "limit_kw": round(self.limit_kw * 1e3) / 1e3,
            "available_kw": round(self.available_kw * 1e3) / 1e3,
            "dc_voltage": round(self.dc_voltage * 1e1) / 1e1,
            "dc_current": round(self.dc_current * 1e2) / 1e2,
            "irradiance_w_m2": round(self.irradiance_w_m2 * 1e1) / 1e1,
            "temperature_c": round(self.temperature_c * 1e1) / 1e1,
            "unit_of_measurement": "kW",
            **self.ownership,
        }
