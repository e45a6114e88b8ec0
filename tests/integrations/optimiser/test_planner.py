"""The optimiser on a simulated site: forecasts and plans as sensors, re-planned every slot, EV targets
set by `ev_charger.set_target`, results as `optimization_result` events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import voluptuous as vol

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.core import Event, Hub, SiteConfig
from orbiteos.integrations import forecast, optimiser, sim

AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 11, 24, 6, 50, tzinfo=AMS)  # a Tuesday, before the van arrives at 07:30

SITE: dict[str, Any] = {
    "seed": 1, "step": 5,
    "pv": {"name": "roof", "peak_power_kw": 50, "tilt": 15},
    "battery": {"name": "main", "capacity_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50,
                "initial_soc": 50},
    "ev_charger": {"name": "depot", "max_power_kw": 22,
                   "sessions": [{"arrival": "07:30", "departure": "12:30", "capacity_kwh": 75, "arrival_soc": 20,
                                 "target_soc": 90, "max_power_kw": 22}]},
    "load": {"profile": "office", "base_kw": 8, "peak_kw": 75},
    "tariff": {"time_of_use": [{"start": "00:00", "price": 0.18}, {"start": "07:00", "price": 0.32},
                               {"start": "17:00", "price": 0.42}, {"start": "21:00", "price": 0.24}],
               "export_price": 0.06},
    "grid": {"import_limit_kw": 80, "export_limit_kw": 40},
}
FORECAST = {"price": {}, "pv": {"arrays": [{"entity_id": "pv.roof", "peak_power_kw": 50, "tilt": 15}]},
            "load": {"entity_id": "sensor.site_load"}}
OPTIMISER = {"import_limit": "sensor.grid_import_limit", "export_limit": "sensor.grid_export_limit",
             "demand_charge": 10, "batteries": [{"entity_id": "battery.main"}],
             "ev_chargers": [{"entity_id": "ev_charger.depot",
                              "sessions": [{"arrival": "07:30", "departure": "12:30", "energy_kwh": 52.5}]}]}


def run(body: Any) -> Any:
    async def main(clock: VirtualClock) -> Any:
        hub = Hub(clock, SiteConfig(time_zone="Europe/Amsterdam", latitude=52.09, longitude=5.12))
        await sim.async_setup(hub, SITE)
        await forecast.async_setup(hub, FORECAST)
        await optimiser.async_setup(hub, OPTIMISER)
        await hub.start()
        try:
            return await body(hub, clock)
        finally:
            await hub.stop()

    return run_virtual(main, START)


def test_plans_are_sensors_with_the_horizon_and_are_renewed_every_slot() -> None:
    async def body(hub: Hub, clock: VirtualClock) -> Any:
        results: list[Event] = []
        hub.bus.listen("optimization_result", results.append)
        first = hub.states.get("sensor.battery_main_plan")
        await clock.sleep(15 * 60)
        return first, hub.states.get("sensor.battery_main_plan"), results, {
            e: hub.states.get(e) for e in ("sensor.ev_charger_depot_plan", "sensor.grid_plan", "sensor.optimiser",
                                           "sensor.import_price_forecast", "sensor.pv_forecast",
                                           "sensor.load_forecast")}

    first, later, results, states = run(body)
    assert first.attributes["forecast"][0]["start"] == "2026-11-24T06:45:00+01:00"
    assert len(first.attributes["forecast"]) == 96
    assert later.attributes["forecast"][0]["start"] == "2026-11-24T07:00:00+01:00"  # the 07:00 slot's plan
    assert float(later.state) == later.attributes["forecast"][0]["value"]
    assert len(later.attributes["soc_forecast"]) == 96
    assert states["sensor.optimiser"].state == "optimal"
    assert states["sensor.import_price_forecast"].attributes["forecast"][0]["value"] == 0.32
    # The van (expected at 07:30, 52.5 kWh by 12:30) is in the plan before it arrives.
    van = states["sensor.ev_charger_depot_plan"].attributes["forecast"]
    planned_kwh = sum(e["value"] for e in van if "07:30" <= e["start"][11:16] < "12:30" and e["start"][:10] ==
                      "2026-11-24") * 0.25
    assert planned_kwh * 0.92 == pytest.approx(52.5, abs=0.1)
    # Every slot of the battery, the charger and the grid, in one result per round.
    assert results and len(results[-1].data["rows"]) == 3 * 96
    grid = states["sensor.grid_plan"]
    assert all(e["value"] <= 80.0 + 1e-6 for e in grid.attributes["forecast"])


def test_a_target_the_charger_cannot_meet_is_reported_with_the_shortfall() -> None:
    async def body(hub: Hub, clock: VirtualClock) -> Any:
        await clock.sleep(50 * 60)  # 07:40: the van is plugged in
        await hub.services.call("ev_charger", "set_target", {
            "entity_id": "ev_charger.depot", "departure": "2026-11-24T08:40:00+01:00", "energy_kwh": 40},
        )
        await clock.sleep(1)
        return hub.states.get("sensor.optimiser"), hub.states.get("sensor.ev_charger_depot_plan")

    status, plan = run(body)
    (shortfall,) = status.attributes["shortfalls"]
    # The slots from 07:30 up to the one with the departure in it: at most 4 x 22 kW x 0.25 h x 92 %.
    planned = [e["value"] for e in plan.attributes["forecast"][:4]]
    assert all(0.0 <= kw <= 22.0 for kw in planned)
    assert shortfall["entity_id"] == "ev_charger.depot"
    assert shortfall["kwh"] == pytest.approx(40.0 - sum(planned) * 0.25 * 0.92, abs=0.01)
    assert shortfall["kwh"] >= 40.0 - 4 * 22.0 * 0.25 * 0.92 - 0.01
    assert "ev_charger.depot (plugged in): " in shortfall["message"] and "kWh short of its 40.00 kWh" in \
        shortfall["message"]


def test_a_target_needs_a_departure_and_an_energy_or_soc() -> None:
    with pytest.raises(vol.Invalid, match="expected at least one of energy_kwh, target_soc"):
        optimiser.SET_TARGET_SCHEMA({"entity_id": "ev_charger.depot", "departure": "2026-11-24T08:00"})
    with pytest.raises(vol.Invalid, match="expected an ISO 8601 date and time"):
        optimiser.SET_TARGET_SCHEMA({"entity_id": "ev_charger.depot", "departure": "soon", "energy_kwh": 1})
