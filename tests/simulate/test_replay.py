from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orbiteos.config import load_config
from orbiteos.simulate.replay import ReplayError, parse_replay, read_replay
from orbiteos.simulate.runner import simulate

TZ = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 11, 24, 8, 0, tzinfo=TZ)


def _parse(text: str) -> list:
    return parse_replay(io.StringIO(text), START, TZ, "timeline.csv")


def test_rows_are_read_in_time_order_with_relative_iso_and_event_times() -> None:
    rows = _parse(
        "time,entity_id,state,attributes\n"
        "30,sensor.price,0.41,\n"
        "-60,sensor.price,0.20,\"{\"\"unit_of_measurement\"\": \"\"EUR/kWh\"\"}\"\n"
        "2026-11-24T08:00:10+01:00,event:grid_alarm,,\"{\"\"level\"\": 2}\"\n"
        "2026-11-24T08:00:30,Sensor.Limit,50\n"
        "\n"
        "# a comment line\n"
    )
    assert [(r.offset, r.entity_id, r.event_type, r.state) for r in rows] == [
        (-60.0, "sensor.price", None, "0.20"),
        (10.0, None, "grid_alarm", ""),
        (30.0, "sensor.price", None, "0.41"),
        (30.0, "sensor.limit", None, "50"),  # same time: file order; naive ISO in the site's zone
    ]
    assert rows[0].attributes == {"unit_of_measurement": "EUR/kWh"}
    assert rows[1].attributes == {"level": 2}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("when,entity,state\n", 1, "expected the header 'time,entity_id,state,attributes'"),
        ("time,entity_id,state,attributes\n1,sensor.a,1,\nsoon,sensor.a,2,\n", 3, "time: expected seconds"),
        ("time,entity_id,state,attributes\n1,sensor.a,1,{oops}\n", 2, "attributes: expected a JSON object"),
        ("time,entity_id,state,attributes\n1,sensor.a,1,[1]\n", 2, "attributes: expected a JSON object"),
        ("time,entity_id,state,attributes\n1,not an entity,1,\n", 2, "entity_id: expected an entity id"),
        ("time,entity_id,state,attributes\n1,event:,1,\n", 2, "expected 'event:<event_type>'"),
        ("time,entity_id,state,attributes\n1,sensor.a\n", 2, "expected 4 columns"),
    ],
)
def test_a_bad_row_names_its_csv_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ReplayError) as err:
        _parse(text)
    assert err.value.line == line
    assert f"timeline.csv:{line}: " in str(err.value)
    assert message in str(err.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="cannot read the replay file"):
        read_replay(tmp_path / "nope.csv", START, TZ)


CONFIG = """\
orbiteos:
  time_zone: Europe/Amsterdam
automation:
  - id: on_price
    alias: on_price
    trigger:
      - platform: state
        entity_id: sensor.price
    action:
      - service: notify.operator
        data:
          message: "price {{ trigger.to_state.state }}"
  - id: on_alarm
    alias: on_alarm
    trigger:
      - platform: event
        event_type: grid_alarm
    action:
      - service: switch.turn_off
        target:
          entity_id: switch.heater
        data:
          level: "{{ trigger.event.data.level }}"
"""


def test_rows_before_the_start_trigger_nothing_and_later_rows_do(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    loaded = load_config(tmp_path)
    assert loaded.errors == []
    rows = _parse(
        "time,entity_id,state,attributes\n"
        "-3600,sensor.price,0.10,\n"
        "-10,sensor.price,0.20,\n"
        "-5,event:grid_alarm,,\"{\"\"level\"\": 1}\"\n"
        "60,sensor.price,0.30,\n"
        "120,event:grid_alarm,,\"{\"\"level\"\": 3}\"\n"
    )
    report = simulate(loaded, START, timedelta(minutes=5), rows).report
    calls = [(c["offset"], c["domain"], c["service"], c["data"], c["handled"], c["automation"])
             for c in report["service_calls"]]
    assert calls == [
        (60.0, "notify", "operator", {"message": "price 0.30"}, False, "automation.on_price"),
        (120.0, "switch", "turn_off", {"entity_id": ["switch.heater"], "level": 3}, False, "automation.on_alarm"),
    ]
