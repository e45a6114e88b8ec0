"""pv_surplus_ev.yaml on the demo site on a Saturday (office closed, the sun on the roof): the van
charges from the PV surplus instead of from the battery and the grid."""

from __future__ import annotations

from pathlib import Path

from orbiteos.core import ServiceCall
from tests.automation.scenario import Scenario, run_scenario
from tests.blueprints.demo_site import calls, demo_copy, simulate_compare

AUTOMATION = """
automation:
  - id: pv_surplus_ev
    alias: PV surplus EV charging
    use_blueprint:
      path: orbiteos/pv_surplus_ev.yaml
      input:
        grid_meter: meter.grid
        ev_charger: ev_charger.depot
        battery: battery.main
"""


def test_more_pv_goes_into_the_ev(tmp_path: Path) -> None:
    report = simulate_compare(demo_copy(tmp_path, AUTOMATION), "2026-06-13T07:00:00+02:00", "6h")
    kpis, without = report["kpis"], report["compare"]["without_automations"]["kpis"]
    assert kpis["ev_from_pv_kwh"] > without["ev_from_pv_kwh"] + 10
    # Most of what the van got came from the sun, against well under half without the automation.
    assert kpis["ev_from_pv_kwh"] > 0.75 * kpis["ev_energy_kwh"]
    assert without["ev_from_pv_kwh"] < 0.5 * without["ev_energy_kwh"]
    made = [(c["offset"], c["data"]["power_kw"]) for c in calls(report, "ev_charger.set_limit")]
    limits = [kw for _t, kw in made]
    # No surplus at 07:00: held at the lowest power, then 0 kW once the disable delay (180 s) ran out.
    assert made[0][1] == 4.1
    assert [t for t, kw in made if kw == 0][0] <= made[0][0] + 180
    # Then always between 6 A on three phases and the charger's 22 kW, or 0.
    assert all(kw == 0 or 4.1 <= kw <= 22.0 for kw in limits)
    assert max(limits) > 10


DELAYS = """
- id: pv_surplus_ev
  use_blueprint:
    path: orbiteos/pv_surplus_ev.yaml
    input:
      grid_meter: meter.grid
      ev_charger: ev_charger.bay
      enable_delay: 60
      disable_delay: 180
"""


def test_enable_and_disable_wait_for_their_delays_and_a_passing_cloud_does_not_stop_charging() -> None:
    def charger(kw: float, limit_kw: float) -> tuple[str, dict[str, float]]:
        return str(kw), {"limit_kw": limit_kw, "max_power_kw": 22}

    async def body(s: Scenario) -> None:
        def set_limit(call: ServiceCall) -> None:
            # A stand-in charger (a fake, named as such): records the call and takes the new limit.
            s.record(call)
            state = s.hub.states.get("ev_charger.bay")
            s.set("ev_charger.bay", state.state if state else "0", {**charger(0, call.data["power_kw"])[1]})

        s.hub.services.register("ev_charger", "set_limit", set_limit)
        s.set("ev_charger.bay", *charger(0, 0))
        s.set("meter.grid", "-3")  # 3 kW surplus: not enough for 4.1 kW
        await s.advance(100)
        assert s.called() == []
        s.set("meter.grid", "-6.5")  # enough from t=100
        await s.advance(30)
        s.set("meter.grid", "-2")  # gone again at t=130: no start
        await s.advance(20)
        s.set("meter.grid", "-6.5")  # back at t=150: started 60 s after the next tick (t=160)
        await s.advance(100)
        s.set("ev_charger.bay", *charger(6.5, 6.5))
        s.set("meter.grid", "0")
        await s.advance(20)
        s.set("meter.grid", "4")  # a cloud at t=270: 2.5 kW surplus, charging holds at 4.1 kW ...
        await s.advance(60)
        s.set("ev_charger.bay", *charger(4.1, 4.1))
        s.set("meter.grid", "-2.4")  # ... the sun is back at t=330 before the disable delay ran out
        await s.advance(100)
        s.set("meter.grid", "2")  # 2.1 kW surplus for good from t=430: 4.1 kW, stopped 180 s later
        await s.advance(300)

    s = run_scenario(DELAYS, body, initial={})
    made = [(t, data["power_kw"]) for t, name, data in s.called() if name == "ev_charger.set_limit"]
    assert made == [(220.0, 6.5), (280.0, 4.1), (340.0, 6.5), (440.0, 4.1), (620.0, 0)]
