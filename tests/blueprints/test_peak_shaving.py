"""peak_shaving.yaml on the demo site: the morning peak (site, van at 22 kW, clouds) held under 75 kW
with a battery that starts at 25 %, so that EV charging has to be throttled as well."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.blueprints.demo_site import calls, demo_copy, simulate_compare

LIMIT_KW = 75
AUTOMATION = f"""
automation:
  - id: peak_shaving
    alias: Peak shaving
    use_blueprint:
      path: orbiteos/peak_shaving.yaml
      input:
        grid_meter: meter.grid
        battery: battery.main
        ev_chargers: [ev_charger.depot]
        import_limit_kw: {LIMIT_KW}
"""


def low_battery(sim: dict[str, Any]) -> None:
    sim["battery"][0]["initial_soc"] = 25


def test_peak_stays_under_the_limit_with_battery_and_ev_throttling(tmp_path: Path) -> None:
    report = simulate_compare(demo_copy(tmp_path, AUTOMATION, low_battery), "2026-06-15T07:30:00+02:00", "3h")
    kpis, without = report["kpis"], report["compare"]["without_automations"]["kpis"]
    assert without["peak_15min_import_kw"] > LIMIT_KW + 10
    assert kpis["peak_15min_import_kw"] <= LIMIT_KW
    # Over the operator's 80 kW for seconds instead of more than an hour.
    assert without["seconds_over_grid_limit"] > 3600
    assert kpis["seconds_over_grid_limit"] < 60
    # The battery alone could not do it: the charger was throttled, and given its full power back.
    ev_limits = [c["data"]["power_kw"] for c in calls(report, "ev_charger.set_limit")]
    lowest = ev_limits.index(min(ev_limits))
    assert ev_limits[lowest] < 5
    assert 22.0 in ev_limits[lowest:]
    # Throttled, not starved: the van still got (nearly) everything it would have had.
    assert kpis["ev_energy_kwh"] >= 0.95 * without["ev_energy_kwh"]
