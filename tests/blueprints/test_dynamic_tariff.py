"""dynamic_tariff.yaml on the demo site's time-of-use price: the battery charges at night (0.18),
discharges from 07:00 (0.32) and the site pays less than with the battery's own self-consumption."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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
    report = simulate_compare(demo_copy(tmp_path, AUTOMATION), "2026-06-15T00:00:00+02:00", "10h")
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
