"""From the site's entities to a `Problem`: forecasts, device states, EV targets and the limits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from orbiteos.core import State, StateMachine
from orbiteos.forecast.series import Horizon, parse_entries, values_of
from orbiteos.optimiser.problem import BatteryModel, ChargerModel, EVSession, Problem

CONNECTED = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE"})


@dataclass(frozen=True)
class EVTarget:
    """A target set with `ev_charger.set_target`: energy (or SoC) by a departure time."""

    departure: datetime
    energy_kwh: float | None = None
    target_soc: float | None = None
    max_power_kw: float | None = None
    session_kwh_at_set: float = 0.0  # the charger's session energy when the target was set


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def forecast_values(state: State | None, horizon: Horizon, tz: tzinfo, default: float) -> list[float]:
    """A forecast sensor's attribute per slot; where it says nothing, its state, else `default`."""
    if state is None:
        return [default] * horizon.count
    fallback = _number(state.state, default)
    values = values_of(parse_entries(state.attributes.get("forecast"), tz), horizon, fallback)
    return [fallback if v is None else v for v in values]


def limit_values(states: StateMachine, limit: str | float, count: int) -> list[float]:
    if isinstance(limit, float):
        return [limit] * count
    state = states.get(limit)
    return [_number(state.state if state else None, 1e6)] * count


def battery_model(state: State | None, config: dict[str, Any]) -> BatteryModel | None:
    if state is None or state.state in ("unavailable", "unknown"):
        return None
    attrs = state.attributes
    capacity = _number(config.get("capacity_kwh", attrs.get("capacity_kwh")), 0.0)
    if capacity <= 0:
        return None
    soc = _number(attrs.get("soc"), 50.0)
    soc_min = _number(config.get("soc_min", attrs.get("soc_min")), 10.0)
    soc_max = _number(config.get("soc_max", attrs.get("soc_max")), 95.0)
    one_way = math.sqrt(config["round_trip_efficiency"])
    return BatteryModel(
        entity_id=config["entity_id"], capacity_kwh=capacity, energy_kwh=capacity * soc / 100.0,
        min_kwh=capacity * soc_min / 100.0, max_kwh=capacity * soc_max / 100.0,
        max_charge_kw=_number(attrs.get("max_charge_kw"), 0.0),
        max_discharge_kw=_number(attrs.get("max_discharge_kw"), 0.0),
        charge_efficiency=one_way, discharge_efficiency=one_way, cycle_cost_eur_per_kwh=config["cycle_cost"],
    )


def _slot_of(horizon: Horizon, moment: datetime) -> int:
    """The index of the slot in which `moment` falls (may be outside 0..count)."""
    return math.floor((moment - horizon.start) / horizon.slot)


def charger_sessions(state: State | None, config: dict[str, Any], horizon: Horizon, now: datetime,
                     target: EVTarget | None) -> tuple[ChargerModel | None, list[EVSession]]:
    """The charger and its sessions over the horizon: the vehicle plugged in now (its target from
    `ev_charger.set_target`, else what it reports missing, else the schedule) and the visits the
    schedule expects later."""
    if state is None or state.state in ("unavailable", "unknown"):
        return None, []
    entity_id = config["entity_id"]
    attrs = state.attributes
    charger_max = _number(config.get("max_power_kw", attrs.get("max_power_kw")), 22.0)
    charger = ChargerModel(entity_id, charger_max, config["efficiency"])
    tz = horizon.start.tzinfo
    local_now = now.astimezone(tz)
    expected = _scheduled_visits(config, local_now, horizon)
    sessions: list[EVSession] = []
    current_visit = next((v for v in expected if v[0] <= local_now < v[1]), None)
    if attrs.get("status") in CONNECTED:
        if target is not None:
            departure = target.departure
            energy: float
            if target.energy_kwh is None and target.target_soc is not None:
                soc = _number(attrs.get("vehicle_soc"), math.nan)
                capacity = _number(attrs.get("vehicle_capacity_kwh"), math.nan)
                known = math.isfinite(soc * capacity)
                energy = max(0.0, (target.target_soc - soc) / 100.0 * capacity) if known else 0.0
            else:
                delivered = _number(attrs.get("session_kwh"), 0.0) - target.session_kwh_at_set
                energy = max(0.0, (target.energy_kwh or 0.0) - max(0.0, delivered) * config["efficiency"])
            max_kw = target.max_power_kw or (current_visit[3] if current_visit else None) or charger_max
        elif current_visit is not None:
            departure = current_visit[1]
            energy = _number(attrs.get("energy_missing_kwh"), math.nan)
            if not math.isfinite(energy):
                energy = max(0.0, current_visit[2] - _number(attrs.get("session_kwh"), 0.0) * config["efficiency"])
            max_kw = current_visit[3] or charger_max
        else:
            departure = local_now + config["default_stay"]
            energy = _number(attrs.get("energy_missing_kwh"), 0.0)
            max_kw = charger_max
        if attrs.get("status") == "SuspendedEV":
            energy = 0.0  # the vehicle says it is full
        last = max(1, _slot_of(horizon, departure))
        sessions.append(EVSession(entity_id, 0, last, energy, min(max_kw, charger_max), name="plugged in"))
    for arrival, leaving, wanted_kwh, visit_max_kw, name in expected:
        if arrival <= local_now:
            continue  # under way (plugged in above) or already gone
        # From the first whole slot after the arrival to the last whole slot before the departure.
        first, last = _slot_of(horizon, arrival) + 1, _slot_of(horizon, leaving)
        if first < horizon.count and last > first and wanted_kwh > 0:
            sessions.append(EVSession(entity_id, first, last, wanted_kwh,
                                      min(visit_max_kw or charger_max, charger_max),
                                      expected=True, name=name or f"expected {arrival:%H:%M}"))
    return charger, sessions


def _scheduled_visits(config: dict[str, Any], local_now: datetime, horizon: Horizon
                      ) -> list[tuple[datetime, datetime, float, float | None, str]]:
    """The schedule's visits that overlap [yesterday, the horizon's end], in site time."""
    visits = []
    tz = local_now.tzinfo
    day = local_now.date() - timedelta(days=1)
    while datetime.combine(day, datetime.min.time(), tz) < horizon.end:
        for session in config["sessions"]:
            if day.weekday() not in session["days"]:
                continue
            midnight = datetime.combine(day, datetime.min.time(), tz)
            arrival = midnight + timedelta(seconds=session["arrival"])
            departure = midnight + timedelta(seconds=session["departure"])
            if departure <= arrival:
                departure += timedelta(days=1)
            visits.append((arrival, departure, session["energy_kwh"], session.get("max_power_kw"), session["name"]))
        day += timedelta(days=1)
    visits.sort(key=lambda v: v[0])
    return visits


def build_problem(states: StateMachine, config: dict[str, Any], horizon: Horizon, now: datetime, tz: tzinfo,
                  targets: dict[str, EVTarget], peak_so_far_kw: float) -> Problem:
    n = horizon.count
    margin = config["import_margin"]
    batteries = [b for b in (battery_model(states.get(c["entity_id"]), c) for c in config["batteries"]) if b]
    chargers: list[ChargerModel] = []
    sessions: list[EVSession] = []
    for charger_config in config["ev_chargers"]:
        charger, found = charger_sessions(states.get(charger_config["entity_id"]), charger_config, horizon, now,
                                          targets.get(charger_config["entity_id"]))
        if charger is not None:
            chargers.append(charger)
            sessions += found
    return Problem(
        start=horizon.start,
        slot=horizon.slot,
        import_price=forecast_values(states.get(config["import_price"]), horizon, tz, 0.25),
        export_price=forecast_values(states.get(config["export_price"]), horizon, tz, 0.0),
        pv_kw=forecast_values(states.get(config["pv_forecast"]), horizon, tz, 0.0),
        load_kw=forecast_values(states.get(config["load_forecast"]), horizon, tz, 0.0),
        import_limit_kw=[max(0.0, v - margin) for v in limit_values(states, config["import_limit"], n)],
        export_limit_kw=limit_values(states, config["export_limit"], n),
        batteries=batteries,
        chargers=chargers,
        sessions=sessions,
        demand_charge_eur_per_kw=config["demand_charge"],
        peak_so_far_kw=peak_so_far_kw,
        stored_energy_value_eur_per_kwh=config.get("stored_energy_value"),
    )
