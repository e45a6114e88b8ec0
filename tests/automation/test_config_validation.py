"""Validation of the automation block: every automation on its own, errors with file:line and a hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

from orbiteos.automation import check_references, validate_config
from orbiteos.config import load_config, parse_yaml

BROKEN = """
- id: good
  trigger: {platform: state, entity_id: sensor.a}
  action: {service: test.call}
- id: typo
  triger: {platform: state, entity_id: sensor.a}
  action: []
- id: keys
  trigger:
    - platform: state
      entity_id: sensor.a
      too: "on"
  condition:
    - condition: stat
  action:
    - service: test.call
      data: {x: "{{ 1 + }}"}
    - servic: test.call
- id: both
  trigger: {platform: state, entity_id: sensor.a}
  triggers: []
  action: []
"""


def test_each_automation_is_validated_on_its_own_with_file_and_line() -> None:
    validated, errors = validate_config(parse_yaml(BROKEN, "automations.yaml"))
    assert [a["id"] for a in validated] == ["good"]
    messages = [str(e) for e in errors]
    assert messages[0] == (
        "automations.yaml:6: automation[1].triger: unknown key 'triger'; did you mean 'trigger'?; "
        "found a mapping (keys: platform, entity_id)"
    )
    assert "automations.yaml:12: automation[2].trigger[0].too: unknown key 'too'; did you mean 'to'?" in messages[1]
    assert any(m.startswith("automations.yaml:14: automation[2].condition[0]: unknown condition 'stat'")
               for m in messages)
    assert any(m.startswith("automations.yaml:17: automation[2].action[0].data.x: template syntax error")
               for m in messages)
    assert any(m.startswith("automations.yaml:18: automation[2].action[1]: unknown action") for m in messages)
    assert any(m.startswith("automations.yaml:21: automation[3].triggers: use either 'trigger' or 'triggers'")
               for m in messages)


def test_plural_keys_and_new_spellings_are_accepted() -> None:
    validated, errors = validate_config(parse_yaml("""
- triggers:
    - trigger: state
      entity_id: sensor.a
  conditions: "{{ true }}"
  actions:
    - action: test.call
""", "a.yaml"))
    assert errors == []
    assert validated[0]["triggers"][0]["platform"] == "state"
    assert validated[0]["actions"][0]["service"] == "test.call"
    assert validated[0]["conditions"][0]["condition"] == "template"


def test_a_single_automation_mapping_and_an_empty_block() -> None:
    one, errors = validate_config(parse_yaml("trigger: {platform: event, event_type: x}\naction: []\n", "a.yaml"))
    assert len(one) == 1 and errors == []
    assert validate_config(None) == ([], [])


def test_check_references_warns_about_unknown_services(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(textwrap.dedent("""
        orbiteos: {name: Site}
        automation:
          - id: a
            trigger: {platform: event, event_type: x}
            action:
              - service: battery.set_powr
              - service: automation.turn_off
                target: {entity_id: automation.automation_0}  # no alias: "automation 0", as HA
              - service: "{{ 'templated.service' }}"
              - service: automation.trigger
                target: {entity_id: automation.missing}
    """))
    loaded = load_config(tmp_path)
    assert loaded.ok, [str(e) for e in loaded.errors]
    warnings = [str(w) for w in check_references(loaded)]
    assert warnings == [
        "configuration.yaml:7: battery.set_powr: no integration provides this service",
        "configuration.yaml:12: automation.missing: no integration provides this entity",
    ]
