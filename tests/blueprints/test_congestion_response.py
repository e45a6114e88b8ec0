"""congestion_response.yaml on the demo site with an operator's limit schedule: import limited to
75 kW on a weekday morning (the EV gives way, the battery is nearly empty), the limit signal lost
for a quarter of an hour (the safe limit holds), and export limited to 10 kW on a sunny Saturday
(battery, then PV curtailment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orbiteos.core import ServiceCall
from tests.automation.scenario import Scenario, run_scenario
from tests.blueprints.demo_site import calls, demo_copy, offset_of, simulate_compare

AUTOMATION = """
automation:
  - id: congestion_response
    alias: Congestion response
    use_blueprint:
      path: orbiteos/congestion_response.yaml
      input:
        grid_meter: meter.grid
        import_limit_sensor: sensor.grid_import_limit
        export_limit_sensor: sensor.grid_export_limit
        safe_import_limit_kw: 60
        safe_export_limit_kw: 5
        ev_chargers: [ev_charger.depot]
        battery: battery.main
        pv_inverters: [pv.roof]
"""

REPLAY = """time,entity_id,state,attributes
2026-06-15T09:30:00+02:00,sensor.grid_import_limit,unavailable,
2026-06-15T09:45:00+02:00,sensor.grid_import_limit,75.0,"{""unit_of_measurement"": ""kW""}"
"""


def congestion_schedule(sim: dict[str, Any], initial_soc: float) -> None:
    sim["battery"][0]["initial_soc"] = initial_soc
    sim["grid"]["schedule"] = [
        {"start": "09:00", "end": "10:30", "import_limit_kw": 75, "days": "weekdays"},
        {"start": "12:00", "end": "17:00", "export_limit_kw": 10, "days": "weekend"},
    ]


def test_import_limit_is_followed_and_a_lost_signal_falls_back_to_the_safe_limit(tmp_path: Path) -> None:
    # The battery starts nearly empty: the EV has to give way.
    config = demo_copy(tmp_path, AUTOMATION, lambda sim: congestion_schedule(sim, initial_soc=20))
    replay = tmp_path / "signal_lost.csv"
    replay.write_text(REPLAY, encoding="utf-8")
    report = simulate_compare(config, "2026-06-15T08:45:00+02:00", "2h", replay)
    kpis, without = report["kpis"], report["compare"]["without_automations"]["kpis"]
    assert without["seconds_over_grid_limit"] > 900
    assert kpis["seconds_over_grid_limit"] < 0.1 * without["seconds_over_grid_limit"]
    assert kpis["peak_15min_import_kw"] < without["peak_15min_import_kw"]
    limits = [(c["offset"], c["data"]["power_kw"]) for c in calls(report, "ev_charger.set_limit")]
    assert min(kw for _t, kw in limits) < 22.0
    # While the signal is lost the safe 60 kW holds: within two seconds the EV drops to what
    # that leaves, and it stays below what the 75 kW limit allowed until the signal is back.
    lost, back = offset_of(report, "2026-06-15T09:30:00+02:00"), offset_of(report, "2026-06-15T09:45:00+02:00")
    before = [kw for t, kw in limits if t < lost][-1]
    during = [(t, kw) for t, kw in limits if lost <= t < back]
    assert during and during[0][0] - lost <= 2.0
    assert during[0][1] <= before - 10 or during[0][1] == 0.0
    assert max(kw for _t, kw in during) < 22.0
    assert any(kw > max(k for _t, k in during) for t, kw in limits if t >= back)


def test_export_limit_is_followed_with_pv_curtailment(tmp_path: Path) -> None:
    # The battery starts nearly full, so that it cannot soak up the midday sun for long.
    config = demo_copy(tmp_path, AUTOMATION, lambda sim: congestion_schedule(sim, initial_soc=90))
    report = simulate_compare(config, "2026-06-13T12:30:00+02:00", "2h")
    kpis, without = report["kpis"], report["compare"]["without_automations"]["kpis"]
    assert without["seconds_over_grid_limit"] > 1800
    assert kpis["seconds_over_grid_limit"] < 0.1 * without["seconds_over_grid_limit"]
    curtailed = [c["data"]["power_kw"] for c in calls(report, "pv.set_limit")]
    assert curtailed and min(curtailed) < 40
    assert kpis["grid_export_kwh"] < without["grid_export_kwh"]


RULES = """
- id: congestion_response
  use_blueprint:
    path: orbiteos/congestion_response.yaml
    input:
      grid_meter: meter.grid
      import_limit_sensor: sensor.import_limit
      safe_import_limit_kw: 30
      ev_chargers: [ev_charger.bay]
      battery: battery.main
      control_interval: "/10"
"""


def test_ev_first_then_battery_safe_limit_when_lost_and_given_back_battery_first() -> None:
    async def body(s: Scenario) -> None:
        def stand_in(call: ServiceCall) -> None:
            # Stand-in charger and battery (fakes, named as such): record the call, take the setpoint.
            s.record(call)
            entity_id = call.data["entity_id"][0]
            state = s.hub.states.get(entity_id)
            assert state is not None
            key = "limit_kw" if call.domain == "ev_charger" else "setpoint_kw"
            s.set(entity_id, state.state, {**state.attributes, key: call.data.get("power_kw")})

        for domain, service in (("ev_charger", "set_limit"), ("battery", "set_power"), ("battery", "auto")):
            s.hub.services.register(domain, service, stand_in)

        def measure(grid_kw: float, ev_kw: float, battery_kw: float) -> None:
            ev = s.hub.states.get("ev_charger.bay")
            bat = s.hub.states.get("battery.main")
            s.set("ev_charger.bay", str(ev_kw), dict(ev.attributes) if ev else {"limit_kw": 22, "max_power_kw": 22})
            s.set("battery.main", str(battery_kw), dict(bat.attributes) if bat else {
                "soc": 50, "setpoint_kw": None, "max_discharge_kw": 50, "max_charge_kw": 50})
            s.set("meter.grid", str(grid_kw))

        s.set("sensor.import_limit", "50")
        measure(60, 20, 0)  # 11 kW over the aim (50 - 1): the EV gives 11 kW
        await s.advance(10)
        measure(45, 9, 0)
        s.set("sensor.import_limit", "unavailable")  # the safe 30 kW: EV to 0, the battery the rest
        await s.advance(10)
        measure(36, 0, 7)
        s.set("sensor.import_limit", "50")  # back, 13 kW of room: the battery's discharge goes first
        await s.advance(5)
        measure(43, 0, 0)  # the battery back on its own: 6 kW of room, now for the EV
        await s.advance(10)

    s = run_scenario(RULES, body, initial={})
    made = [(t, name, data.get("power_kw")) for t, name, data in s.called()]
    assert made == [
        (0.0, "ev_charger.set_limit", 9.0),
        (10.0, "ev_charger.set_limit", 0),
        (10.0, "battery.set_power", 7.0),
        (20.0, "battery.auto", None),
        (30.0, "ev_charger.set_limit", 6.0),
    ]
