"""Automation-level `variables:` render in order, each seeing the ones before it (Home Assistant)."""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario


def test_automation_variables_see_earlier_ones_and_trigger_wins() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.grid", "70")
        s.hub.bus.fire("go", {})
        await s.advance(1)

    yaml_text = """
- id: a
  trigger: {platform: event, event_type: go, variables: {limit: 50}}
  variables:
    grid_kw: "{{ states('sensor.grid') | float }}"
    excess_kw: "{{ grid_kw - limit }}"
    limit: 999
  action:
    - action: test.call
      data: {excess: "{{ excess_kw }}", limit: "{{ limit }}"}
"""
    s = run_scenario(yaml_text, body)
    assert s.called() == [(0.0, "test.call", {"excess": 20.0, "limit": 50})]
