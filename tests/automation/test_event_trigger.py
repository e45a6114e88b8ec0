"""Event trigger with templates in `event_type` and `event_data`, as observed in Home Assistant 2024.3.3."""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario

YAML = """
- id: tariff
  trigger_variables: {kind: tariff, zone: 2}
  trigger:
    platform: event
    event_type: ["{{ kind }}_changed", plain]
    event_data: {zone: "{{ zone }}"}
  action: {service: test.call, data: {t: "{{ trigger.event.event_type }}", d: "{{ trigger.description }}"}}
"""


def test_event_type_and_data_templates_render_with_the_trigger_variables() -> None:
    async def body(s: Scenario) -> None:
        s.hub.bus.fire("tariff_changed", {"zone": 2})
        s.hub.bus.fire("tariff_changed", {"zone": "2"})  # the template rendered the number 2
        s.hub.bus.fire("tariff_changed", {"zone": 3})
        s.hub.bus.fire("{{ kind }}_changed", {"zone": 2})  # the template's text is no event type
        s.hub.bus.fire("plain", {"zone": 2, "x": 1})
        await s.idle()

    s = run_scenario(YAML, body)
    assert [call[2] for call in s.called()] == [
        {"t": "tariff_changed", "d": "event 'tariff_changed'"},
        {"t": "plain", "d": "event 'plain'"},
    ]


def test_an_event_type_template_that_does_not_compile_is_refused_at_load() -> None:
    from orbiteos.automation import validate_config
    from orbiteos.config import parse_yaml

    _, errors = validate_config(parse_yaml(YAML.replace("{{ kind }}_changed", "{{ kind _changed"), "automations.yaml"))
    # The trigger's line (4), the option's path and what the parser expected.
    assert len(errors) == 1 and "automations.yaml:4" in str(errors[0]) and "event_type" in str(errors[0])
