"""An AC EV charger and the vehicles that visit it.

Vehicles arrive and leave on a daily schedule. A connected vehicle takes what the charger
offers up to its own on-board limit, tapering above `taper_soc`, and stops at its target SoC.
Statuses follow OCPP 1.6: Available, Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from orbiteos.integrations.sim.schedule import ALL_DAYS, DAY_S, seconds_of_day, weekdays
from orbiteos.validation import number_in_range, string

AVAILABLE = "Available"
PREPARING = "Preparing"
CHARGING = "Charging"
SUSPENDED_EV = "SuspendedEV"
SUSPENDED_EVSE = "SuspendedEVSE"
FINISHING = "Finishing"

SESSION_SCHEMA = vol.Schema(
    {
        vol.Required("arrival"): seconds_of_day,
        vol.Required("departure"): seconds_of_day,
        vol.Optional("capacity_kwh", default=60.0): number_in_range(1.0, 1000.0),
        vol.Optional("arrival_soc", default=30.0): number_in_range(0.0, 100.0),
        vol.Optional("target_soc", default=80.0): number_in_range(0.0, 100.0),
        vol.Optional("max_power_kw", default=11.0): number_in_range(0.1, 1000.0),
        vol.Optional("taper_soc", default=80.0): number_in_range(0.0, 100.0),
        vol.Optional("days", default="all"): weekdays,
        vol.Optional("name"): string,
    }
)


def _sessions_do_not_overlap(config: dict[str, Any]) -> dict[str, Any]:
    spans = []
    for index, session in enumerate(config["sessions"]):
        end = session["departure"] if session["departure"] > session["arrival"] else session["departure"] + DAY_S
        spans.append((session["arrival"], end, index))
    spans.sort()
    for (_a0, end0, i0), (a1, _end1, i1) in zip(spans, spans[1:], strict=False):
        if a1 < end0 and config["sessions"][i0]["days"] & config["sessions"][i1]["days"]:
            raise vol.Invalid(
                f"expected sessions that do not overlap on the same day, found sessions {i0} and {i1}",
                path=["sessions", i1],
            )
    return config


SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("name", default="charger"): string,
            vol.Optional("max_power_kw", default=22.0): number_in_range(0.1, 1000.0),
            vol.Optional("phases", default=3): vol.All(vol.Coerce(int), vol.In((1, 3), msg="expected 1 or 3 phases")),
            vol.Optional("voltage", default=230.0): number_in_range(100.0, 400.0),
            vol.Optional("min_current_a", default=6.0): number_in_range(0.0, 100.0),
            vol.Optional("efficiency", default=0.92): number_in_range(0.5, 1.0),
            vol.Optional("connector_id", default=1): vol.Coerce(int),
            vol.Optional("preparing_s", default=20.0): number_in_range(0.0, 3600.0),
            vol.Optional("finishing_s", default=10.0): number_in_range(0.0, 3600.0),
            vol.Optional("sessions", default=[]): [SESSION_SCHEMA],
        }
    ),
    _sessions_do_not_overlap,
)


@dataclass
class Visit:
    """One vehicle's stay, in site-local seconds since the epoch."""

    arrival: float
    departure: float
    capacity_kwh: float
    soc: float
    target_soc: float
    max_power_kw: float
    taper_soc: float
    delivered_kwh: float = 0.0

    @property
    def missing_kwh(self) -> float:
        return max(0.0, (self.target_soc - self.soc) / 100.0 * self.capacity_kwh)


@dataclass(frozen=True)
class VisitResult:
    arrival: float
    departure: float
    delivered_kwh: float
    soc: float
    target_soc: float
    missing_kwh: float


def acceptance_kw(visit: Visit) -> float:
    """What the vehicle accepts: its on-board limit, tapering linearly above `taper_soc` to 5 %."""
    if visit.soc >= visit.target_soc:
        return 0.0
    if visit.soc <= visit.taper_soc or visit.taper_soc >= 100.0:
        return visit.max_power_kw
    return visit.max_power_kw * max(0.05, (100.0 - visit.soc) / (100.0 - visit.taper_soc))


class EVCharger:
    def __init__(self, config: dict[str, Any]) -> None:
        self.name: str = config["name"]
        self.max_power_kw = float(config["max_power_kw"])
        self.phases = int(config["phases"])
        self.voltage = float(config["voltage"])
        self.min_current_a = float(config["min_current_a"])
        self.efficiency = float(config["efficiency"])
        self.connector_id = int(config["connector_id"])
        self.preparing_s = float(config["preparing_s"])
        self.finishing_s = float(config["finishing_s"])
        self.sessions: list[dict[str, Any]] = list(config["sessions"])
        self.limit_kw = self.max_power_kw
        self.enabled = True
        self.status = AVAILABLE
        self.power_kw = 0.0
        self.energy_kwh = 0.0
        self.visit: Visit | None = None
        self.last_visit: Visit | None = None
        self.results: list[VisitResult] = []
        self._status_until = 0.0
        self._planned: list[Visit] = []
        self._planned_day: int | None = None
        # Available with nobody plugged in for a whole step: nothing new to write.
        self.quiet = False
        # A charging profile's duration: seconds the limit holds, then back to the charger's maximum.
        self.revert_in_s: float | None = None
        self.revert_to_kw = self.max_power_kw  # the charger's own default profile
        self.ownership: dict[str, Any] = {}

    # --- control ---------------------------------------------------------
    @property
    def min_power_kw(self) -> float:
        return self.min_current_a * self.voltage * self.phases / 1000.0

    def limit_kw_of(self, power_kw: float | None = None, current_a: float | None = None) -> float:
        if current_a is not None:
            power_kw = current_a * self.voltage * self.phases / 1000.0
        if power_kw is None:
            raise ValueError("charger limit needs power_kw or current_a")
        return max(0.0, min(self.max_power_kw, power_kw))

    def set_limit(self, power_kw: float | None = None, current_a: float | None = None) -> None:
        self.limit_kw = self.limit_kw_of(power_kw, current_a)

    def start(self) -> None:
        self.enabled = True

    def stop(self) -> None:
        self.enabled = False

    # --- schedule ----------------------------------------------------------
    def _plan(self, day: int) -> None:
        """Plan the visits that start yesterday or today (yesterday's may run overnight)."""
        self._planned_day = day
        planned = []
        for plan_day in (day - 1, day):
            weekday = (plan_day + 3) % 7
            for session in self.sessions:
                if weekday not in session.get("days", ALL_DAYS):
                    continue
                arrival = plan_day * DAY_S + session["arrival"]
                departure = plan_day * DAY_S + session["departure"]
                if departure <= arrival:
                    departure += DAY_S
                planned.append(
                    Visit(
                        arrival, departure, float(session["capacity_kwh"]), float(session["arrival_soc"]),
                        float(session["target_soc"]), float(session["max_power_kw"]), float(session["taper_soc"]),
                    )
                )
        planned.sort(key=lambda v: v.arrival)
        self._planned = planned

    def _next_visit(self, local: float) -> Visit | None:
        for visit in self._planned:
            if visit.arrival <= local < visit.departure:
                self._planned.remove(visit)
                return visit
        return None

    # --- physics -----------------------------------------------------------
    def step(self, local: float, day: int, dt: float) -> float:
        """One step at site-local epoch seconds `local`; returns the AC power drawn, kW."""
        self.quiet = False
        if self.revert_in_s is not None:
            self.revert_in_s -= dt
            if self.revert_in_s <= 0.0:
                self.revert_in_s = None
                self.limit_kw = self.revert_to_kw
        if day != self._planned_day:
            self._plan(day)
        visit = self.visit
        if visit is not None and local >= visit.departure:
            self._depart(visit, local)
            visit = None
        if visit is None:
            if self.status == FINISHING and local < self._status_until:
                return self._draw(0.0)
            visit = self._next_visit(local)
            if visit is None:
                self.quiet = self.status == AVAILABLE and self.power_kw == 0.0
                self.status = AVAILABLE
                return self._draw(0.0)
            self.visit = visit
            self.status = PREPARING
            self._status_until = local + self.preparing_s
        if self.status == PREPARING and local < self._status_until:
            return self._draw(0.0)
        offered = self.limit_kw if self.enabled and self.limit_kw >= self.min_power_kw else 0.0
        accepted = acceptance_kw(visit)
        if accepted <= 0.0:
            self.status = SUSPENDED_EV
            return self._draw(0.0)
        if offered <= 0.0:
            self.status = SUSPENDED_EVSE
            return self._draw(0.0)
        self.status = CHARGING
        power = min(offered, accepted)
        hours = dt / 3600.0
        visit.delivered_kwh += power * hours
        visit.soc = min(100.0, visit.soc + power * self.efficiency * hours / visit.capacity_kwh * 100.0)
        return self._draw(power, dt)

    def _draw(self, power: float, dt: float = 0.0) -> float:
        self.power_kw = power
        self.energy_kwh += power * dt / 3600.0
        return power

    def _depart(self, visit: Visit, local: float) -> None:
        self.results.append(
            VisitResult(visit.arrival, visit.departure, visit.delivered_kwh, visit.soc, visit.target_soc,
                        visit.missing_kwh)
        )
        self.last_visit = visit
        self.visit = None
        self.status = FINISHING
        self._status_until = local + self.finishing_s

    def attributes(self) -> dict[str, Any]:
        visit = self.visit
        current = self.power_kw * 1000.0 / (self.voltage * self.phases)
        attrs: dict[str, Any] = {
            "status": self.status,
            "limit_kw": round(self.limit_kw * 1e3) / 1e3,
            "max_power_kw": self.max_power_kw,
            "phases": self.phases,
            "current_a": round(current * 1e1) / 1e1,
            "session_kwh": round((visit.delivered_kwh if visit else 0.0) * 1e3) / 1e3,
            "energy_kwh": round(self.energy_kwh * 1e3) / 1e3,
            "connector_id": self.connector_id,
            "enabled": self.enabled,
            "unit_of_measurement": "kW",
            **self.ownership,
        }
        if visit is not None:
            attrs["vehicle_soc"] = round(visit.soc * 1e2) / 1e2
            attrs["vehicle_target_soc"] = visit.target_soc
            attrs["vehicle_capacity_kwh"] = visit.capacity_kwh
            attrs["energy_missing_kwh"] = round(visit.missing_kwh * 1e3) / 1e3
        return attrs
