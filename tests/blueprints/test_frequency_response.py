"""frequency_response.yaml on the demo site: the sim's dip to 49.7 Hz at 14:00 stops the EV and
discharges the battery within a second; everything comes back once the frequency has recovered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.automation.scenario import Scenario, run_scenario
from tests.blueprints.demo_site import CONFIG_EXAMPLE, calls, demo_copy, offset_of, simulate_compare

AUTOMATION = """
automation:
  - id: frequency_response
    alias: Frequency response
    use_blueprint:
      path: orbiteos/frequency_response.yaml
      input:
        frequency_source: meter.grid
        threshold_hz: 49.9
        recovery_time: 10
        ev_chargers: [ev_charger.depot]
        battery: battery.main
"""


def demo_dip() -> dict[str, Any]:
    site = yaml.safe_load((CONFIG_EXAMPLE / "packages" / "site.yaml").read_text(encoding="utf-8"))
    dip: dict[str, Any] = site["sim"]["meter"]["disturbances"][0]
    return dip


def test_dip_stops_the_ev_within_a_second_and_restores_after_recovery(tmp_path: Path) -> None:
    dip = demo_dip()
    assert dip["frequency_hz"] < 49.9
    report = simulate_compare(demo_copy(tmp_path, AUTOMATION), "2026-06-15T13:30:00+02:00", "1h")
    dip_start = offset_of(report, f"2026-06-15T{dip['at']}:00+02:00")
    dip_end = dip_start + float(dip.get("duration", 20)) + 2 * float(dip.get("ramp_s", 2))

    stops = calls(report, "ev_charger.stop")
    assert len(stops) == 1
    assert stops[0]["data"]["entity_id"] == ["ev_charger.depot"]
    assert 0 <= stops[0]["offset"] - dip_start <= 1.0
    discharge = calls(report, "battery.set_power")
    assert [c["data"]["power_kw"] for c in discharge] == [50.0]  # the battery's max_discharge_kw
    assert discharge[0]["offset"] == stops[0]["offset"]

    # Restored once the frequency has held above 49.95 Hz for 10 s: limit, start, battery back to auto.
    starts = calls(report, "ev_charger.start")
    assert len(starts) == 1
    assert dip_end + 10 - 2 <= starts[0]["offset"] <= dip_end + 10 + 3
    assert [c["data"]["power_kw"] for c in calls(report, "ev_charger.set_limit")] == [22.0]
    assert calls(report, "battery.auto")[0]["offset"] == starts[0]["offset"]
    assert report["compare"]["without_automations"]["service_calls"] == 0
    # The car charges a little less (about 30 s worth) with the response than without.
    assert report["compare"]["difference"]["ev_energy_kwh"] < 0


SENSOR_AUTOMATION = """
- id: frequency_response
  use_blueprint:
    path: orbiteos/frequency_response.yaml
    input:
      frequency_source: sensor.grid_frequency
      frequency_attribute: ""
      threshold_hz: 49.8
      recovery_hz: 49.9
      recovery_time: 5
      max_duration: 120
      ev_chargers: [ev_charger.a, ev_charger.b]
      ev_action: throttle
      ev_throttle_kw: 1.4
      battery: battery.main
      discharge_kw: 20
      pause_automations: [automation.other]
- id: other
  alias: Other
  trigger:
    - trigger: time_pattern
      seconds: "/30"
  action:
    - action: test.call
"""


def test_sensor_source_throttles_fires_grid_events_and_pauses_other_automations() -> None:
    initial = {"sensor.grid_frequency": "50.01"}

    async def body(s: Scenario) -> None:
        s.set("ev_charger.a", "11", {"limit_kw": 11, "max_power_kw": 22})
        s.set("ev_charger.b", "0", {"limit_kw": 7.4, "max_power_kw": 22})
        s.set("battery.main", "-3", {"soc": 60, "setpoint_kw": -3, "max_discharge_kw": 50})
        await s.advance(2)
        s.set("sensor.grid_frequency", "49.75")
        await s.advance(1)
        assert s.hub.states.get("automation.other").state == "off"
        s.set("sensor.grid_frequency", "49.85")  # better, not recovered
        await s.advance(10)
        s.set("sensor.grid_frequency", "49.95")
        await s.advance(10)

    s = run_scenario(SENSOR_AUTOMATION, body, initial=initial)
    made = [(t, name, {k: v for k, v in data.items() if k != "entity_id"}) for t, name, data in s.called()
            if name != "test.call"]
    assert made == [
        (2.0, "ev_charger.set_limit", {"power_kw": 1.4}),
        (2.0, "battery.set_power", {"power_kw": 20}),
        (18.0, "ev_charger.set_limit", {"power_kw": 11.0}),
        (18.0, "ev_charger.set_limit", {"power_kw": 7.4}),
        (18.0, "battery.set_power", {"power_kw": -3}),
    ]
    grid_events = [e.data for e in s.events if e.event_type == "grid_event"]
    assert [(e["type"], e["phase"]) for e in grid_events] == [("under_frequency", "start"), ("under_frequency", "end")]
    assert grid_events[0]["frequency_hz"] == grid_events[0]["value"] == 49.75
    assert grid_events[0]["entity_id"] == grid_events[1]["entity_id"] == "sensor.grid_frequency"
    assert grid_events[1]["frequency_hz"] == 49.95
    assert grid_events[0]["threshold_hz"] == 49.8
    assert grid_events[1]["recovered"] is True
    assert grid_events[1]["duration_s"] == 16.0
    assert s.hub.states.get("automation.other").state == "on"


HOVERING = """
- id: frequency_response
  use_blueprint:
    path: orbiteos/frequency_response.yaml
    input:
      frequency_source: sensor.grid_frequency
      frequency_attribute: ""
      threshold_hz: 49.8
      rearm_margin_hz: 0.05
      max_duration: 60
      battery: battery.main
      discharge_kw: 20
"""


def test_after_an_event_that_ran_out_hovering_at_the_threshold_starts_no_new_one() -> None:
    async def body(s: Scenario) -> None:
        s.set("battery.main", "0", {"soc": 60, "max_discharge_kw": 50})
        await s.advance(1)
        s.set("sensor.grid_frequency", "49.75")
        await s.advance(65)  # never recovers: the event ends after its longest time (60 s)
        for value in ("49.82", "49.79", "49.84", "49.78"):  # inside the re-arm margin
            s.set("sensor.grid_frequency", value)
            await s.advance(5)
        s.set("sensor.grid_frequency", "49.9")  # more than 0.05 Hz above: re-armed
        await s.advance(5)
        s.set("sensor.grid_frequency", "49.7")
        await s.advance(1)

    s = run_scenario(HOVERING, body, initial={"sensor.grid_frequency": "50.0"})
    starts = [e.data for e in s.events if e.event_type == "grid_event" and e.data["phase"] == "start"]
    assert [e["frequency_hz"] for e in starts] == [49.75, 49.7]
    assert [t for t, name, _ in s.called() if name == "battery.set_power"] == [1.0, 91.0]
