"""Automation-level `variables:` render in order, each seeing the ones before it (Home Assistant)."""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario


async def grid_at_90_then_go(s: Scenario) -> None:
    s.set("sensor.grid", "90")
    s.hub.bus.fire("go", {})
    await s.advance(1)


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


def test_conditions_that_ignore_variables_skip_their_rendering() -> None:
    """A condition that reads no automation variable is checked first: a broken variable
    never matters while the condition stops the run, and the calls that come out are the same."""

    async def body(s: Scenario) -> None:
        s.set("input_boolean.enabled", "off")
        s.hub.bus.fire("go", {})
        await s.advance(1)
        s.set("input_boolean.enabled", "on")
        s.hub.bus.fire("go", {})
        await s.advance(1)

    yaml_text = """
- id: a
  trigger: {platform: event, event_type: go}
  variables:
    broken: "{{ states('sensor.none') | float }}"
  condition:
    - condition: state
      entity_id: input_boolean.enabled
      state: "on"
  action:
    - action: test.call
"""
    s = run_scenario(yaml_text, body)
    assert s.called() == []
    results = [t["result"] for t in s.traces("a")]
    assert sorted(results) == ["error", "failed_conditions"]


def test_condition_reading_a_variable_sees_it_rendered() -> None:
    yaml_text = """
- id: a
  trigger: {platform: event, event_type: go}
  variables:
    grid_kw: "{{ states('sensor.grid') | float }}"
  condition: "{{ grid_kw > 80 }}"
  action:
    - action: test.call
      data: {grid: "{{ grid_kw }}"}
"""
    s = run_scenario(yaml_text, grid_at_90_then_go)
    assert s.called() == [(0.0, "test.call", {"grid": 90.0})]


def test_this_is_the_automations_own_state_when_a_template_reads_it() -> None:
    """`this` is built only for automations whose templates name it; those see their own state
    as Home Assistant gives it (a mapping with ISO timestamps)."""

    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go", {})
        await s.advance(1)

    yaml_text = """
- id: reads_this
  trigger: {platform: event, event_type: go}
  variables:
    me: "{{ this.entity_id }}"
  action:
    - action: test.call
      data:
        me: "{{ me }}"
        state: "{{ this.state }}"
        mode: "{{ this.attributes.mode }}"
        changed_is_text: "{{ this.last_changed is string }}"
- id: ignores_this
  trigger: {platform: event, event_type: go}
  action:
    - action: test.other
"""
    s = run_scenario(yaml_text, body)
    assert sorted(s.called()) == [
        # No alias: Home Assistant names it `automation 0` (its place in the list), whatever its id.
        (0.0, "test.call", {"me": "automation.automation_0", "state": "on", "mode": "single", "changed_is_text": True}),
        (0.0, "test.other", {}),
    ]


def test_names_are_seen_in_templates_that_use_orbiteos_filters_and_tests() -> None:
    """A template with one of our own filters (`| bool`, `| states`) or tests (`is has_value`)
    still shows which variables it reads: `this` is built for it, and a condition reading an
    automation variable waits for the variables."""

    yaml_text = """
- id: a
  trigger: {platform: event, event_type: go}
  variables:
    grid_kw: "{{ states('sensor.grid') | float }}"
  condition: "{{ (grid_kw > 80) | bool }}"
  action:
    - action: test.call
      data:
        me: "{{ this.entity_id | states }}"
        known: "{{ this.entity_id is has_value }}"
"""
    s = run_scenario(yaml_text, grid_at_90_then_go)
    assert s.called() == [(0.0, "test.call", {"me": "on", "known": True})]
