"""follow_plan.yaml: setpoints from the plan sensors, the battery taking up the grid's deviation from
the plan, never discharging for a planned export, the import limit before the plan."""

from __future__ import annotations

from pathlib import Path

from orbiteos.core import ServiceCall
from tests.automation.scenario import Scenario, run_scenario
from tests.blueprints.demo_site import demo_copy, simulate_compare

RULES = """
- id: follow_the_plan
  use_blueprint:
    path: orbiteos/follow_plan.yaml
    input:
      grid_meter: meter.grid
      battery: battery.main
      ev_chargers: [ev_charger.depot]
      import_limit_kw: 78
      follow: FOLLOW
"""


def _stand_ins(s: Scenario) -> None:
    def stand_in_battery(call: ServiceCall) -> None:
        # A stand-in battery (a fake, named as such): records the call and takes the setpoint.
        s.record(call)
        state = s.hub.states.get("battery.main")
        assert state is not None
        s.set("battery.main", state.state, {**state.attributes, "setpoint_kw": call.data.get("power_kw")})

    def stand_in_charger(call: ServiceCall) -> None:
        s.record(call)
        state = s.hub.states.get("ev_charger.depot")
        assert state is not None
        s.set("ev_charger.depot", state.state, {**state.attributes, "limit_kw": call.data.get("power_kw")})

    s.hub.services.register("battery", "set_power", stand_in_battery)
    s.hub.services.register("ev_charger", "set_limit", stand_in_charger)


def _battery(s: Scenario, kw: float, max_discharge: float = 50.0) -> None:
    state = s.hub.states.get("battery.main")
    setpoint = state.attributes.get("setpoint_kw") if state else None
    s.set("battery.main", str(kw), {"soc": 50, "setpoint_kw": setpoint, "max_charge_kw": 50,
                                    "max_discharge_kw": max_discharge})


def test_the_battery_steers_the_grid_to_the_plan_and_the_charger_takes_its_planned_power() -> None:
    async def body(s: Scenario) -> None:
        _stand_ins(s)
        _battery(s, 0)
        s.set("ev_charger.depot", "0", {"limit_kw": 22, "status": "Charging"})
        s.set("sensor.battery_main_plan", "-20")
        s.set("sensor.ev_charger_depot_plan", "11")
        s.set("sensor.grid_plan", "50")
        s.set("meter.grid", "30")  # 20 kW below the plan: charge 20 kW
        await s.advance(10)
        _battery(s, -20)
        s.set("meter.grid", "60")  # the load came out 10 kW above the forecast: charge 10 kW less
        await s.advance(10)
        # A planned export of 10 kW with the battery charging 30 kW from PV; the PV comes out lower.
        _battery(s, -30)
        s.set("sensor.battery_main_plan", "-30")
        s.set("sensor.grid_plan", "-10")
        s.set("meter.grid", "5")  # 15 kW less PV: charge 15 kW less
        await s.advance(10)
        _battery(s, -15)
        s.set("meter.grid", "30")  # far less: stop charging, but never discharge to export
        await s.advance(10)

    # The control interval's first tick at 0 s finds nothing set yet: the first calls are at 10 s.
    s = run_scenario(RULES.replace("FOLLOW", "grid"), body, initial={})
    assert [(t, name, data.get("power_kw")) for t, name, data in s.called()] == [
        (10.0, "battery.set_power", -20.0),
        (10.0, "ev_charger.set_limit", 11.0),
        (20.0, "battery.set_power", -10.0),
        (30.0, "battery.set_power", -15.0),
        (40.0, "battery.set_power", 0.0),
    ]


def test_the_import_limit_comes_first_then_off_the_chargers() -> None:
    async def body(s: Scenario) -> None:
        _stand_ins(s)
        _battery(s, 0, max_discharge=10)
        s.set("ev_charger.depot", "11", {"limit_kw": 11, "status": "Charging"})
        s.set("sensor.battery_main_plan", "0")
        s.set("sensor.ev_charger_depot_plan", "11")
        s.set("meter.grid", "90")  # 12 kW over 78: 10 from the battery, 2 off the charger
        await s.advance(10)
        s.set("sensor.ev_charger_depot_plan", "0")  # the plan pauses the charger: 0, sent once
        s.set("meter.grid", "60")
        await s.advance(20)

    s = run_scenario(RULES.replace("FOLLOW", "power"), body, initial={})
    assert [(t, name, data.get("power_kw")) for t, name, data in s.called()] == [
        (10.0, "battery.set_power", 10.0),
        (10.0, "ev_charger.set_limit", 9.0),
        (20.0, "battery.set_power", 0.0),
        (20.0, "ev_charger.set_limit", 0.0),
    ]


def test_the_demo_with_the_plan_costs_less_than_without_automations(tmp_path: Path) -> None:
    config = demo_copy(tmp_path, (Path(__file__).parents[2] / "config.example" / "packages" /
                                  "automations.yaml").read_text(encoding="utf-8"))
    report = simulate_compare(config, "2026-11-24T15:00:00+01:00", "6h")
    kpis, without = report["kpis"], report["compare"]["without_automations"]["kpis"]
    # Measured: energy 55.66 against 58.29 EUR, total (with the demand charge and the stored energy's
    # value) 79.77 against 82.88 EUR, 15 min peak 58.30 against 63.08 kW, both vehicles served.
    assert kpis["energy_cost_eur"] < without["energy_cost_eur"] - 1
    assert kpis["total_cost_eur"] < without["total_cost_eur"] - 1
    assert kpis["peak_15min_import_kw"] < without["peak_15min_import_kw"] - 2
    assert kpis["ev_energy_missing_kwh"] <= without["ev_energy_missing_kwh"] + 0.5


def test_an_empty_battery_leaves_the_import_limit_to_the_chargers() -> None:
    async def body(s: Scenario) -> None:
        _stand_ins(s)
        s.set("battery.main", "0", {"soc": 10, "soc_min": 10, "setpoint_kw": 0, "max_charge_kw": 50,
                                    "max_discharge_kw": 50})
        s.set("ev_charger.depot", "22", {"limit_kw": 22, "status": "Charging"})
        s.set("sensor.battery_main_plan", "0")
        s.set("sensor.ev_charger_depot_plan", "22")
        s.set("meter.grid", "85")  # 7 kW over 78 and nothing in the battery: the charger gives 7 kW
        await s.advance(10)
        s.set("ev_charger.depot", "15", {"limit_kw": 15, "status": "Charging"})
        s.set("meter.grid", "78")  # at the limit: it stays throttled, no swing back to the plan's 22
        await s.advance(10)
        s.set("meter.grid", "75")  # 3 kW of room: it takes that, not more
        await s.advance(10)

    s = run_scenario(RULES.replace("FOLLOW", "power"), body, initial={})
    assert [(t, name, data.get("power_kw")) for t, name, data in s.called()] == [
        (10.0, "ev_charger.set_limit", 15.0),
        (30.0, "ev_charger.set_limit", 18.0),
    ]
