"""congestion_response.yaml on the demo site with an operator's limit schedule: import limited to
75 kW on a weekday morning (the EV gives way, the battery is nearly empty), the limit signal lost
for a quarter of an hour (the safe limit holds), and export limited to 10 kW on a sunny Saturday
(battery, then PV curtailment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    report = simulate_compare(config, "2026-06-13T12:30:00+02:00", "3h")
    kpis, without = report["kpis"], report["compare"]["without_automations"]["kpis"]
    assert without["seconds_over_grid_limit"] > 1800
    assert kpis["seconds_over_grid_limit"] < 0.05 * without["seconds_over_grid_limit"]
    curtailed = [c["data"]["power_kw"] for c in calls(report, "pv.set_limit")]
    assert curtailed and min(curtailed) < 40
    assert kpis["grid_export_kwh"] < without["grid_export_kwh"]
