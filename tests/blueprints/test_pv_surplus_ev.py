"""pv_surplus_ev.yaml on the demo site on a Saturday (office closed, the sun on the roof): the van
charges from the PV surplus instead of from the battery and the grid."""

from __future__ import annotations

from pathlib import Path

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
    assert kpis["ev_from_pv_kwh"] > 0.9 * kpis["ev_energy_kwh"]
    assert without["ev_from_pv_kwh"] < 0.5 * without["ev_energy_kwh"]
    limits = [c["data"]["power_kw"] for c in calls(report, "ev_charger.set_limit")]
    # Stopped (0 kW) without surplus at the start, then between 6 A on three phases and 22 kW.
    assert limits[0] == 0
    assert all(kw == 0 or 4.1 <= kw <= 22.0 for kw in limits)
    assert max(limits) > 10
