"""Legacy keys Home Assistant 2024.3 still accepts: `service_template:` and `data_template:`."""

from __future__ import annotations

from orbiteos.automation import validate_config
from orbiteos.config import parse_yaml
from tests.automation.scenario import Scenario, run_scenario

YAML = """
- id: legacy
  trigger: {platform: event, event_type: go}
  action:
    - service_template: "{{ 'test.' ~ 'call' }}"
      data: {a: 1, b: 1}
      data_template: {b: "{{ 1 + 1 }}"}
    - service_template: test.other
      data_template: {c: "{{ trigger.event.data.c }}"}
"""


def test_service_template_and_data_template_call_the_service_as_home_assistant() -> None:
    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go", {"c": "x"})
        await s.idle()

    s = run_scenario(YAML, body)
    # data_template is merged over data, as Home Assistant 2024.3.3 did with the same automation.
    assert [(service, data) for _, service, data in s.called()] == [("test.call", {"a": 1, "b": 2}),
                                                                   ("test.other", {"c": "x"})]


def test_two_names_for_the_service_are_refused_with_the_line() -> None:
    legacy = "    - service_template: test.other"
    yaml = YAML.replace(legacy, legacy + "\n      service: test.call")
    _, errors = validate_config(parse_yaml(yaml, "automations.yaml"))
    assert len(errors) == 1
    message = str(errors[0])
    assert message.startswith("automations.yaml:8:"), message
    assert "'service_template:' and 'service:'" in message or "'service:' and 'service_template:'" in message
