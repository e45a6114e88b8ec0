"""The report's moments are the site's wall-clock times with their offset, across a DST change too."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from orbiteos.config import load_config
from orbiteos.simulate.runner import simulate

CONFIG = """
orbiteos:
  name: Clock site
  time_zone: Europe/Amsterdam
automation:
  - id: every_half_hour
    trigger:
      - platform: homeassistant
        event: start
    action:
      - repeat:
          count: 5
          sequence:
            - delay: "00:30:00"
            - service: switch.turn_on
              target:
                entity_id: switch.pump
"""


def test_service_calls_and_runs_carry_site_time_with_offset_and_utc_across_the_end_of_summer_time(
    tmp_path: Path,
) -> None:
    (tmp_path / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    loaded = load_config(tmp_path)
    assert loaded.ok, loaded.errors
    # 25 October 2026: at 03:00 CEST the clocks go back to 02:00 CET.
    start = datetime.fromisoformat("2026-10-25T01:00:00+02:00")
    report = simulate(loaded, start, timedelta(hours=3)).report
    times = [(call["time"], call["time_utc"]) for call in report["service_calls"]]
    # The wall clock shows 02:00 and 02:30 twice; the offset tells them apart.
    assert times == [
        ("2026-10-25T01:30:00+02:00", "2026-10-24T23:30:00+00:00"),
        ("2026-10-25T02:00:00+02:00", "2026-10-25T00:00:00+00:00"),
        ("2026-10-25T02:30:00+02:00", "2026-10-25T00:30:00+00:00"),
        ("2026-10-25T02:00:00+01:00", "2026-10-25T01:00:00+00:00"),
        ("2026-10-25T02:30:00+01:00", "2026-10-25T01:30:00+00:00"),
    ]
    assert [call["offset"] for call in report["service_calls"]] == [1800.0 * n for n in range(1, 6)]
    (run,) = report["automation_runs"]  # its time is when it started
    assert (run["time"], run["time_utc"]) == ("2026-10-25T01:00:00+02:00", "2026-10-24T23:00:00+00:00")
    assert (report["start"], report["end"]) == ("2026-10-25T01:00:00+02:00", "2026-10-25T03:00:00+01:00")
