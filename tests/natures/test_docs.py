"""docs/failsafe.md is true: its YAML loads, and the figures it quotes come from the command it shows."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from orbiteos.automation import validate_config
from orbiteos.config import parse_yaml
from orbiteos.natures.settings import DEFAULT_SAFE_STATES, FailsafeSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "failsafe.md"
YAML_BLOCK = re.compile(r"```yaml\n(?P<body>.*?)```", re.S)


def blocks() -> list[dict]:
    return [yaml.safe_load(m["body"]) for m in YAML_BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_failsafe_block_of_the_page_is_valid_and_its_defaults_are_the_codes() -> None:
    [block] = [b["failsafe"] for b in blocks() if "failsafe" in b]
    settings = FailsafeSettings.from_config(block)
    defaults = FailsafeSettings.from_config({})
    # Every value the page gives is the default, except the two examples it names.
    assert settings.after_s == defaults.after_s == 10.0
    assert settings.stale_after_s == defaults.stale_after_s == 30.0
    assert settings.keepalive_s == defaults.keepalive_s == 15.0
    assert settings.revert_after_s == defaults.revert_after_s == 60.0
    assert settings.priority_hold_s == defaults.priority_hold_s == 10.0
    assert settings.conflict_window_s == defaults.conflict_window_s == 30.0
    assert dict(settings.safe_states) == dict(defaults.safe_states) == DEFAULT_SAFE_STATES
    assert settings.inputs == ("meter.grid",) and defaults.inputs is None
    assert settings.safe_state("ev_charger.depot").data == {"power_kw": 4.2}


def test_the_priority_example_of_the_page_is_a_valid_automation() -> None:
    [block] = [b["automation"] for b in blocks() if "automation" in b]
    validated, errors = validate_config(parse_yaml(yaml.safe_dump(block), "automations.yaml"))
    assert errors == [] and validated[0]["priority"] == 10
