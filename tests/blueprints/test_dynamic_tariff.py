"""dynamic_tariff.yaml on the demo site's time-of-use price: the battery charges at night (0.18),
discharges from 07:00 (0.32) and the site pays less than with the battery's own self-consumption."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from orbiteos.core import ServiceCall
from tests.automation.scenario import Scenario, run_scenario
from tests.blueprints.demo_site import calls, demo_copy, simulate_compare

AUTOMATION = """
automation:
  - id: dynamic_tariff
    alias: Dynamic tariff
    use_blueprint:
      path: orbiteos/dynamic_tariff.yaml
      input:
        price_sensor: sensor.electricity_price
        grid_meter: meter.grid
        battery: battery.main
        cheap_price: 0.2
        dear_price: 0.3
        import_limit_kw: 75
"""


def test_cheap_charging_and_dear_discharging_costs_less(tmp_path: Path) -> None:
    report = simulate_compare(demo_copy(tmp_path, AUTOMATION), "2026-06-15T04:00:00+02:00", "5h30m")
    kpis, without = report["kpis"], report["compare"]["without_automations"]["kpis"]
    assert kpis["energy_cost_eur"] < without["energy_cost_eur"] - 5
    setpoints = [(datetime.fromisoformat(c["time"]).astimezone(datetime.fromisoformat(report["start"]).tzinfo),
                  c["data"]["power_kw"]) for c in calls(report, "battery.set_power")]
    night = [kw for moment, kw in setpoints if moment.hour < 7]
    day = [kw for moment, kw in setpoints if moment.hour >= 7]
    assert night[0] == -50.0  # full charge power while cheap (the site draws ~8 kW, far from 75)
    assert all(kw <= 0 for kw in night)
    assert day and all(kw >= 0 for kw in day)
    # Discharging only covers the site's own import: hardly any export.
    assert kpis["grid_export_kwh"] < 1.0


RULES = """
- id: dynamic_tariff
  use_blueprint:
    path: orbiteos/dynamic_tariff.yaml
    input:
      price_sensor: sensor.price
      grid_meter: meter.grid
      battery: battery.main
      cheap_price: 0.1
      dear_price: 0.3
      import_limit_kw: 40
      control_interval: "/10"
"""


def test_price_periods_soc_bounds_surplus_and_an_unknown_price() -> None:
    async def body(s: Scenario) -> None:
        def battery(kw: float, soc: float) -> None:
            state = s.hub.states.get("battery.main")
            setpoint = state.attributes.get("setpoint_kw") if state else None
            s.set("battery.main", str(kw), {"soc": soc, "setpoint_kw": setpoint, "max_charge_kw": 30,
                                            "max_discharge_kw": 25})

        def stand_in_battery(call: ServiceCall) -> None:
            # A stand-in battery (a fake, named as such): records the call and takes the setpoint.
            s.record(call)
            state = s.hub.states.get("battery.main")
            assert state is not None
            s.set("battery.main", state.state, {**state.attributes, "setpoint_kw": call.data.get("power_kw")})

        s.hub.services.register("battery", "set_power", stand_in_battery)
        s.hub.services.register("battery", "auto", stand_in_battery)
        battery(0, 50)
        s.set("meter.grid", "20")
        s.set("sensor.price", "0.08")  # cheap: 30 kW of charging, but only 20 kW of room under 40 kW
        await s.advance(10)
        battery(-20, 96)  # full: hold, not charge
        await s.advance(10)
        battery(0, 60)
        s.set("sensor.price", "0.35")  # dear: cover the 20 kW import
        await s.advance(10)
        s.set("meter.grid", "40")  # 40 kW import: only 25 kW of discharge
        await s.advance(10)
        battery(0, 9)  # empty: hold
        await s.advance(10)
        s.set("meter.grid", "-12")
        battery(0, 60)
        s.set("sensor.price", "0.2")  # between, with 12 kW of PV surplus: store it
        await s.advance(10)
        s.set("sensor.price", "unavailable")  # unknown price: the battery's own control
        await s.advance(5)

    s = run_scenario(RULES, body, initial={})
    made = [(t, name, data.get("power_kw")) for t, name, data in s.called()]
    assert made == [
        (0.0, "battery.set_power", -20.0),
        (20.0, "battery.set_power", 0.0),
        (20.0, "battery.set_power", 20.0),
        (40.0, "battery.set_power", 25.0),
        (50.0, "battery.set_power", 0.0),
        (50.0, "battery.set_power", -12.0),
        (60.0, "battery.auto", None),
    ]
