"""The rolling plan: re-planned at every slot and whenever a forecast or an EV target changes;
written as plan sensors and as an `optimization_result` event (rows of `optimization_results`)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Any

from orbiteos.core import Event, Hub, ServiceCall, Unsubscribe
from orbiteos.forecast.measured import SlotAverager
from orbiteos.forecast.series import Horizon, entries_of
from orbiteos.forecast.ticker import every_slot
from orbiteos.optimiser.lp import solve
from orbiteos.optimiser.problem import Plan
from orbiteos.optimiser.site import EVTarget, build_problem

_LOGGER = logging.getLogger(__name__)

EVENT_OPTIMIZATION_RESULT = "optimization_result"
STATUS_SENSOR = "sensor.optimiser"
GRID_PLAN_SENSOR = "sensor.grid_plan"
_REPLAN_DELAY_S = 1.0  # after the slot boundary: the forecasts of the new slot are written first


def plan_sensor(entity_id: str) -> str:
    """`battery.main` -> `sensor.battery_main_plan`."""
    return "sensor." + entity_id.replace(".", "_") + "_plan"


class Planner:
    def __init__(self, hub: Hub, config: dict[str, Any]) -> None:
        self.hub = hub
        self.config = config
        self.slot_s = config["slot"].total_seconds()
        self.targets: dict[str, EVTarget] = {}
        self.plan: Plan | None = None
        self._peak_month: tuple[int, int] | None = None
        self.peak_so_far_kw = 0.0
        self._meter: SlotAverager | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._unsubscribes: list[Unsubscribe] = []

    # --- running ------------------------------------------------------------------
    def start(self) -> None:
        hub, config = self.hub, self.config
        self._meter = SlotAverager(hub, [config["grid_meter"]], hub.clock.now().timestamp())
        self._unsubscribes.append(every_slot(hub, self.slot_s, self._on_slot, offset_s=_REPLAN_DELAY_S))
        watched = [config["import_price"], config["export_price"], config["pv_forecast"], config["load_forecast"]]
        self._unsubscribes.append(hub.states.listen(watched, self._on_forecast))
        self.replan()

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        if self._pending is not None:
            self._pending.cancel()
        if self._meter is not None:
            self._meter.stop()

    def _on_slot(self, boundary_ts: float) -> None:
        if self._meter is not None:
            self._note_peak(boundary_ts, self._meter.close(boundary_ts))
        if self.plan is None or self.plan.start.timestamp() < boundary_ts:
            self.replan()  # no forecast moved on at the boundary (each does, when there are forecasts)

    def _note_peak(self, boundary_ts: float, mean_kw: float | None) -> None:
        """The billing month's highest slot-average import (the demand charge's base)."""
        local = datetime.fromtimestamp(boundary_ts - self.slot_s, self.hub.config.tzinfo)
        month = (local.year, local.month)
        if month != self._peak_month:
            self._peak_month = month
            self.peak_so_far_kw = 0.0
        if mean_kw is not None:
            self.peak_so_far_kw = max(self.peak_so_far_kw, mean_kw)

    def _on_forecast(self, event: Event) -> None:
        old, new = event.data.get("old_state"), event.data.get("new_state")
        if old is not None and new is not None and old.attributes.get("forecast") == new.attributes.get("forecast"):
            return
        self.replan_soon()

    def replan_soon(self) -> None:
        """Re-plan once the current burst of changes is over (several forecasts change together)."""
        if self._pending is None:
            self._pending = self.hub.clock.call_later(0.0, self._replan_pending)

    def _replan_pending(self) -> None:
        self._pending = None
        self.replan()

    async def set_target(self, call: ServiceCall) -> None:
        """`ev_charger.set_target`: energy (kWh into the vehicle) or SoC by `departure`."""
        tz = self.hub.config.tzinfo
        departure = call.data["departure"]
        if departure.tzinfo is None:
            departure = departure.replace(tzinfo=tz)
        for entity_id in call.entity_ids:
            state = self.hub.states.get(entity_id)
            session_kwh = 0.0
            if state is not None:
                try:
                    session_kwh = float(state.attributes.get("session_kwh") or 0.0)
                except (TypeError, ValueError):
                    session_kwh = 0.0
            self.targets[entity_id] = EVTarget(departure, call.data.get("energy_kwh"), call.data.get("target_soc"),
                                               call.data.get("max_power_kw"), session_kwh)
        self.replan_soon()

    # --- planning -----------------------------------------------------------------
    def replan(self) -> None:
        hub = self.hub
        tz = hub.config.tzinfo
        now = hub.clock.now()
        horizon = Horizon.from_now(now.astimezone(tz), self.config["slot"], self.config["horizon"])
        self._drop_past_targets(now)
        problem = build_problem(hub.states, self.config, horizon, now, tz, self.targets, self.peak_so_far_kw)
        try:
            plan = solve(problem)
        except (RuntimeError, ValueError) as err:
            _LOGGER.error("optimiser: no plan at %s: %s", horizon.start.isoformat(), err)
            hub.states.set(STATUS_SENSOR, "failed", {"error": str(err), "planned_at": now.isoformat()})
            return
        self.plan = plan
        for shortfall in plan.shortfalls:
            _LOGGER.info("optimiser: %s", shortfall.message)
        self._write(horizon, plan, now, {b.entity_id: b.capacity_kwh for b in problem.batteries})

    def _drop_past_targets(self, now: datetime) -> None:
        for entity_id, target in list(self.targets.items()):
            state = self.hub.states.get(entity_id)
            unplugged = state is not None and state.attributes.get("status") == "Available"
            if target.departure <= now or unplugged:
                del self.targets[entity_id]

    def _write(self, horizon: Horizon, plan: Plan, now: datetime, capacities: dict[str, float]) -> None:
        states = self.hub.states
        planned_at = now.isoformat()
        rows: list[dict[str, Any]] = []

        def write(entity_id: str, device: str, values: list[float], extra: dict[str, Any] | None = None) -> None:
            states.set(entity_id, str(round(values[0], 2) + 0.0), {
                "forecast": entries_of(horizon, values, 2),
                "unit_of_measurement": "kW",
                "device": device,
                "planned_at": planned_at,
                **(extra or {}),
            })
            rows.extend({"time": horizon.slot_start(i).isoformat(), "entity_id": device,
                         "setpoint_kw": round(v, 3)} for i, v in enumerate(values))

        for entity_id, values in plan.battery_kw.items():
            energies = plan.battery_energy_kwh[entity_id]
            capacity = capacities[entity_id]
            write(plan_sensor(entity_id), entity_id, values,
                  {"soc_forecast": entries_of(horizon, [100.0 * e / capacity for e in energies], 1)})
        for entity_id, values in plan.charger_kw.items():
            write(plan_sensor(entity_id), entity_id, values)
        write(GRID_PLAN_SENSOR, self.config["grid_meter"], plan.grid_kw)
        states.set(STATUS_SENSOR, plan.status.lower(), {
            "objective_eur": round(plan.objective_eur, 4),
            "costs": {k: round(v, 4) for k, v in plan.costs.items()},
            "peak_kw": round(plan.peak_kw, 3),
            "peak_so_far_kw": round(self.peak_so_far_kw, 3),
            "shortfalls": [{"what": s.what, "entity_id": s.entity_id, "kwh": s.kwh, "message": s.message}
                           for s in plan.shortfalls],
            "solve_ms": round(plan.solve_ms, 1),
            "planned_at": planned_at,
            "slots": horizon.count,
        })
        self.hub.bus.fire(EVENT_OPTIMIZATION_RESULT, {
            "run_id": uuid.uuid4().hex, "created": planned_at, "objective": "cost",
            "cost": round(plan.objective_eur, 4), "rows": rows,
        })
