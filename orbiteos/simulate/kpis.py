"""Energy KPIs of a run, integrated from the states as they change (works for any site whose
entities follow the device natures, simulated or replayed).

Powers are held constant between state changes. The peak is the highest 15-minute average import
over clock-aligned quarter hours, as grid operators bill it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from orbiteos.core import EVENT_STATE_CHANGED, Event, Hub, Unsubscribe
from orbiteos.simulate.report import EVENT_AUTOMATION_RUN_FINISHED

QUARTER_S = 900.0
PRICE_ENTITY = "sensor.electricity_price"
EXPORT_PRICE_ENTITY = "sensor.electricity_export_price"
IMPORT_LIMIT_ENTITY = "sensor.grid_import_limit"
EXPORT_LIMIT_ENTITY = "sensor.grid_export_limit"
GRID_METER = "meter.grid"
_SENSOR_KINDS = {
    PRICE_ENTITY: "price",
    EXPORT_PRICE_ENTITY: "export_price",
    IMPORT_LIMIT_ENTITY: "import_limit",
    EXPORT_LIMIT_ENTITY: "export_limit",
}
_UNSEEN: Any = object()
_SESSION_STATUSES = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE"})


def _number(text: str | None, default: float = 0.0) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default


class KpiCollector:
    """Integrates grid, PV, battery and EV power over the run; `kpis(end)` gives the figures."""

    def __init__(self, hub: Hub, start: datetime, grid_meter: str = GRID_METER) -> None:
        self.hub = hub
        self.grid_meter = grid_meter
        self._t = start.timestamp()
        self._quarter_end = (self._t // QUARTER_S + 1.0) * QUARTER_S
        self._quarter_import = 0.0
        self.quarter_peaks: list[tuple[float, float]] = []  # (quarter start ts, average import kW)
        self.grid_kw = 0.0
        self.pv_kw: dict[str, float] = {}
        self.battery_kw: dict[str, float] = {}
        self.ev_kw: dict[str, float] = {}
        self.capacity_kwh: dict[str, float] = {}
        self.price = math.nan
        self.export_price = 0.0
        self.import_limit = math.inf
        self.export_limit = math.inf
        self.totals = dict.fromkeys(
            ("import_kwh", "export_kwh", "cost_eur", "pv_kwh", "consumption_kwh", "battery_charged_kwh",
             "battery_discharged_kwh", "ev_kwh", "ev_from_pv_kwh", "seconds_over_limit", "unpriced_import_kwh"),
            0.0,
        )
        self.ev_sessions = 0
        self.ev_stop_starts = 0
        self.instant_peak_kw = 0.0
        self.demand_charge_rate = 0.0  # EUR per kW of the 15 min peak per month (the price sensor's attribute)
        self.priced_s = 0.0
        self.price_seconds = 0.0  # price x seconds, for the run's mean price
        self.stored_kwh_start: dict[str, float] = {}
        self.stored_kwh: dict[str, float] = {}
        self._start_ts = self._t
        self.ev_missing_kwh = 0.0
        self.automation_runs = 0
        self._ev_last: dict[str, tuple[str | None, float]] = {}
        self._kinds: dict[str, str | None] = {}
        self._last_fired: datetime | None = None
        self._unsubscribe: list[Unsubscribe] = [
            hub.bus.listen(EVENT_STATE_CHANGED, self._on_state),
            hub.bus.listen(EVENT_AUTOMATION_RUN_FINISHED, self._on_run),
        ]
        for state in hub.states.all():
            self._take(state.entity_id, state)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def _on_run(self, _event: Event) -> None:
        self.automation_runs += 1

    # --- integration ---------------------------------------------------------
    def _integrate(self, seconds: float) -> None:
        if seconds <= 0.0:
            return
        hours = seconds / 3600.0
        grid = self.grid_kw
        totals = self.totals
        pv = sum(self.pv_kw.values())
        battery = sum(self.battery_kw.values())
        if not math.isnan(self.price):
            self.priced_s += seconds
            self.price_seconds += self.price * seconds
        if grid >= 0.0:
            energy = grid * hours
            totals["import_kwh"] += energy
            self._quarter_import += energy
            if math.isnan(self.price):
                totals["unpriced_import_kwh"] += energy
            else:
                totals["cost_eur"] += energy * self.price
            if grid > self.import_limit:
                totals["seconds_over_limit"] += seconds
        else:
            energy = -grid * hours
            totals["export_kwh"] += energy
            totals["cost_eur"] -= energy * self.export_price
            if -grid > self.export_limit:
                totals["seconds_over_limit"] += seconds
        totals["pv_kwh"] += pv * hours
        totals["consumption_kwh"] += (grid + pv + battery) * hours
        for power in self.battery_kw.values():
            if power >= 0.0:
                totals["battery_discharged_kwh"] += power * hours
            else:
                totals["battery_charged_kwh"] -= power * hours
        ev = sum(self.ev_kw.values())
        totals["ev_kwh"] += ev * hours
        # PV into the EV: what PV has left after the site's own load (grid + PV + battery - EV), up to the EV's power.
        own_load = grid + pv + battery - ev
        totals["ev_from_pv_kwh"] += min(ev, max(0.0, pv - own_load)) * hours

    def advance(self, ts: float) -> None:
        """Integrate the held values up to UTC timestamp `ts`, closing quarter hours on the way."""
        while ts >= self._quarter_end:
            self._integrate(self._quarter_end - self._t)
            self._t = self._quarter_end
            self.quarter_peaks.append((self._quarter_end - QUARTER_S, self._quarter_import * 3600.0 / QUARTER_S))
            self._quarter_import = 0.0
            self._quarter_end += QUARTER_S
        self._integrate(ts - self._t)
        self._t = max(self._t, ts)

    def _on_state(self, event: Event) -> None:
        entity_id = event.data["entity_id"]
        kind = self._kinds.get(entity_id, _UNSEEN)
        if kind is _UNSEEN:
            kind = self._kinds[entity_id] = self._kind(entity_id)
        if kind is None:
            return  # a change no figure reads: the held values integrate the same without it
        fired = event.time_fired
        if fired is not self._last_fired:  # the same moment again: nothing to integrate
            self._last_fired = fired
            self.advance(fired.timestamp())
        self._take(entity_id, event.data.get("new_state"), kind)

    def _kind(self, entity_id: str) -> str | None:
        """What a change of `entity_id` moves: one of _take's kinds, or None for nothing."""
        if entity_id == self.grid_meter:
            return "grid"
        domain = entity_id.partition(".")[0]
        if domain in ("pv", "battery", "ev_charger"):
            return domain
        return _SENSOR_KINDS.get(entity_id)

    def _take(self, entity_id: str, state: Any, kind: str | None = _UNSEEN) -> None:
        if kind is _UNSEEN:
            kind = self._kind(entity_id)
        value = _number(state.state) if state is not None else 0.0
        if kind == "grid":
            self.grid_kw = value
            self.instant_peak_kw = max(self.instant_peak_kw, value)
        elif kind == "pv":
            self.pv_kw[entity_id] = max(0.0, value)
        elif kind == "battery":
            self.battery_kw[entity_id] = value
            if state is not None:
                capacity = self.capacity_kwh[entity_id] = _number(state.attributes.get("capacity_kwh"), 0.0)
                soc = _number(state.attributes.get("soc"), math.nan)
                if not math.isnan(soc):
                    self.stored_kwh[entity_id] = capacity * soc / 100.0
                    self.stored_kwh_start.setdefault(entity_id, self.stored_kwh[entity_id])
        elif kind == "ev_charger":
            self.ev_kw[entity_id] = max(0.0, value)
            if state is not None:
                self._ev_status(entity_id, state.attributes)
        elif kind == "price":
            self.price = _number(state.state if state else None, math.nan)
            if state is not None and "demand_charge_eur_per_kw_month" in state.attributes:
                self.demand_charge_rate = _number(state.attributes["demand_charge_eur_per_kw_month"], 0.0)
        elif kind == "export_price":
            self.export_price = value
        elif kind == "import_limit":
            self.import_limit = _number(state.state if state else None, math.inf)
        elif kind == "export_limit":
            self.export_limit = _number(state.state if state else None, math.inf)

    def _ev_status(self, entity_id: str, attributes: Any) -> None:
        status = attributes.get("status")
        previous_status, previous_missing = self._ev_last.get(entity_id, (None, 0.0))
        if previous_status == "Charging" and status == "SuspendedEVSE":
            self.ev_stop_starts += 1  # the charger paused a vehicle that was charging
        if previous_status in _SESSION_STATUSES and status not in _SESSION_STATUSES:
            # The vehicle left: what it still lacked then is energy missing at departure.
            self.ev_sessions += 1
            self.ev_missing_kwh += previous_missing
        missing = _number(attributes.get("energy_missing_kwh"), 0.0)
        self._ev_last[entity_id] = (status, missing if status in _SESSION_STATUSES else 0.0)

    # --- results -----------------------------------------------------------
    def kpis(self, end: datetime) -> dict[str, Any]:
        self.advance(end.timestamp())
        totals = self.totals
        quarters = list(self.quarter_peaks)
        if self._quarter_import:
            quarters.append((self._quarter_end - QUARTER_S, self._quarter_import * 3600.0 / QUARTER_S))
        peak_start, peak_kw = max(quarters, key=lambda q: q[1]) if quarters else (None, 0.0)
        pv, export = totals["pv_kwh"], totals["export_kwh"]
        consumption, imported = totals["consumption_kwh"], totals["import_kwh"]
        throughput = totals["battery_charged_kwh"] + totals["battery_discharged_kwh"]
        capacity = sum(self.capacity_kwh.values())
        tz = self.hub.config.tzinfo
        # The demand charge is billed per month: a run pays its share (run days / 30) of the month's charge.
        months = (end.timestamp() - self._start_ts) / (30.0 * 86_400.0)
        demand_charge = self.demand_charge_rate * peak_kw * months
        # What the energy the batteries gained (or lost) over the run is worth, at the run's mean import price.
        mean_price = self.price_seconds / self.priced_s if self.priced_s > 0 else 0.0
        stored_change = sum(self.stored_kwh.values()) - sum(self.stored_kwh_start.values())
        stored_value = stored_change * mean_price
        return {
            "grid_import_kwh": round(imported, 3),
            "grid_export_kwh": round(export, 3),
            "peak_15min_import_kw": round(peak_kw, 3),
            "peak_15min_start": (
                datetime.fromtimestamp(peak_start, tz).isoformat() if peak_start is not None else None
            ),
            "energy_cost_eur": round(totals["cost_eur"], 4),
            "demand_charge_eur": round(demand_charge, 4),
            "stored_energy_change_kwh": round(stored_change, 3),
            "stored_energy_value_eur": round(stored_value, 4),
            "total_cost_eur": round(totals["cost_eur"] + demand_charge - stored_value, 4),
            "instantaneous_peak_import_kw": round(self.instant_peak_kw, 3),
            "pv_kwh": round(pv, 3),
            "consumption_kwh": round(consumption, 3),
            "self_consumption_pct": round(100.0 * (pv - export) / pv, 2) if pv > 0 else None,
            # Import beyond the consumption (a battery charged from the grid) covers nothing: floor at 0.
            "self_sufficiency_pct": (
                round(max(0.0, 100.0 * (consumption - imported) / consumption), 2) if consumption > 0 else None
            ),
            "battery_throughput_kwh": round(throughput, 3),
            "battery_equivalent_full_cycles": round(throughput / (2.0 * capacity), 4) if capacity > 0 else None,
            "ev_energy_kwh": round(totals["ev_kwh"], 3),
            "ev_from_pv_kwh": round(totals["ev_from_pv_kwh"], 3),
            "ev_sessions_departed": self.ev_sessions,
            "ev_energy_missing_kwh": round(self.ev_missing_kwh, 3),
            "ev_stop_starts": self.ev_stop_starts,
            "seconds_over_grid_limit": round(totals["seconds_over_limit"], 1),
            "automation_runs": self.automation_runs,
        }
