"""`orbiteos explain`: the demo configuration simulated up to a moment, then explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orbiteos.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
orbiteos: {time_zone: Europe/Amsterdam}
automation:
  - id: high_price
    trigger:
      - {trigger: numeric_state, entity_id: sensor.price, above: 0.30, hysteresis: 0.05}
    condition:
      - condition: state
        entity_id: switch.allow
        state: "on"
    action:
      - action: battery.set_power
        target: {entity_id: battery.main}
        data: {power_kw: 5}
"""
REPLAY = """time,entity_id,state,attributes
-1,sensor.price,0.20,
-1,switch.allow,off,
600,sensor.price,0.35,
1200,sensor.price,0.28,
1800,sensor.price,0.40,
"""


def test_explain_on_the_demo_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["explain", "automation.frequency_response", "-c", str(REPO / "config.example"),
                     "--at", "2026-11-24T14:03"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("automation.frequency_response (")
    assert "trigger 0 (" in out
    # The demo's rule-based automations are off since it follows the optimiser's plan: explain says so.
    assert cli_main(["explain", "automation.dynamic_tariff", "-c", str(REPO / "config.example"),
                     "--at", "2026-11-24T14:03"]) == 0
    assert "the automation is off" in capsys.readouterr().out


def test_explain_from_a_replay_at_a_moment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "configuration.yaml").write_text(CONFIG)
    (tmp_path / "day.csv").write_text(REPLAY)
    args = ["explain", "high_price", "-c", str(tmp_path), "--start", "2026-11-24T00:00",
            "--at", "2026-11-24T00:40", "--replay", str(tmp_path / "day.csv")]
    assert cli_main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    entry = report["triggers"][0]["entities"]["sensor.price"]
    # 0.35 fired (refused by the condition); 0.28 stayed inside the band; 0.40 was not re-armed.
    assert entry["value"] == 0.40 and entry["armed"] is False
    assert "hysteresis" in entry["last_refusal"]
    assert report["last_refused"]["false_conditions"][0]["state"] == {"switch.allow": "off"}
    assert cli_main(args) == 0
    assert "condition/0 (state) was false" in capsys.readouterr().out
    assert cli_main(["explain", "nope", "-c", str(tmp_path), "--at", "2026-11-24T00:10"]) == 1
    assert "no automation 'nope'" in capsys.readouterr().err
