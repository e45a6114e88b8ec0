"""Conditions: logic, state (for, attribute), numeric_state, template shorthand, time, trigger, enabled."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.automation.scenario import Scenario, run_scenario


def with_conditions(conditions: str) -> str:
    return f"""
- id: c
  mode: parallel
  trigger: {{platform: event, event_type: go}}
  condition: {conditions}
  action: {{service: test.call, data: {{n: "{{{{ trigger.event.data.n }}}}"}}}}
"""


def go(s: Scenario, n: int) -> None:
    s.hub.bus.fire("go", {"n": n})


def test_and_or_not_combine() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.price", "0.05")
        s.set("battery.main", "1", {"soc": 40})
        go(s, 1)
        await s.advance(1)
        s.set("battery.main", "1", {"soc": 95})
        go(s, 2)
        await s.advance(1)
        s.set("sensor.price", "0.5")
        go(s, 3)
        await s.advance(1)

    conditions = """
    - condition: or
      conditions:
        - "{{ states('sensor.price') | float < 0.1 }}"
        - condition: state
          entity_id: switch.force
          state: "on"
    - not:
        - condition: numeric_state
          entity_id: battery.main
          attribute: soc
          above: 90
"""
    s = run_scenario(with_conditions(conditions), body)
    assert [c.data["n"] for c in s.calls] == [1]
    trace = s.traces("c")[1]
    assert trace["result"] == "failed_conditions"
    numeric = next(step for step in trace["steps"] if step.get("condition") == "numeric_state")
    assert numeric["value"] == {"battery.main": 95} and numeric["result"] is True


def test_state_condition_with_for_and_attribute() -> None:
    async def body(s: Scenario) -> None:
        s.set("switch.pump", "on", {"speed": "high"})
        go(s, 1)
        await s.advance(120)
        go(s, 2)
        await s.advance(1)

    conditions = """
    - condition: state
      entity_id: switch.pump
      state: "on"
      for: {minutes: 2}
    - condition: state
      entity_id: switch.pump
      attribute: speed
      state: [high, max]
"""
    s = run_scenario(with_conditions(conditions), body, initial={"switch.pump": "off"})
    assert [c.data["n"] for c in s.calls] == [2]


def test_numeric_state_condition_on_a_non_number_is_false() -> None:
    async def body(s: Scenario) -> None:
        go(s, 1)
        await s.advance(1)
        s.set("sensor.p", "12")
        go(s, 2)
        await s.advance(1)

    s = run_scenario(with_conditions("{condition: numeric_state, entity_id: sensor.p, above: 10, below: 20}"), body,
                     initial={"sensor.p": "error"})
    assert [c.data["n"] for c in s.calls] == [2]
    assert "cannot be processed as a number" in s.traces("c")[0]["steps"][0]["error"]


def test_time_condition_spans_midnight_and_checks_weekday() -> None:
    async def body(s: Scenario) -> None:
        for n in range(6):  # 20:00, 22:00, 00:00, 02:00, 04:00, 06:00 UTC on Mon 1 June 2026
            go(s, n)
            await s.advance(7200)

    conditions = '{condition: time, after: "21:30", before: "05:00", weekday: [mon, tue]}'
    s = run_scenario(with_conditions(conditions), body, start=datetime(2026, 6, 1, 20, tzinfo=UTC))
    assert [c.data["n"] for c in s.calls] == [1, 2, 3, 4]


def test_trigger_condition_and_disabled_condition() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.a", "1")
        await s.advance(1)
        s.set("sensor.b", "1")
        await s.advance(1)

    yaml = """
- id: c
  trigger:
    - {platform: state, entity_id: sensor.a, id: a}
    - {platform: state, entity_id: sensor.b, id: b}
  condition:
    - {condition: trigger, id: b}
    - {condition: template, value_template: "{{ false }}", enabled: false}
  action: {service: test.call, data: {id: "{{ trigger.id }}"}}
"""
    s = run_scenario(yaml, body, initial={"sensor.a": "0", "sensor.b": "0"})
    assert [c.data["id"] for c in s.calls] == ["b"]


def test_template_error_in_a_condition_counts_as_false_for_that_run_only() -> None:
    async def body(s: Scenario) -> None:
        go(s, 1)
        await s.advance(1)
        s.set("sensor.p", "3")
        go(s, 2)
        await s.advance(1)

    s = run_scenario(with_conditions('"{{ states(\'sensor.p\') | float > 1 }}"'), body,
                     initial={"sensor.p": "unavailable"})
    assert [c.data["n"] for c in s.calls] == [2]
    first = s.traces("c")[0]
    assert first["result"] == "failed_conditions"
    assert "float got invalid input 'unavailable'" in first["steps"][0]["error"]


def test_conditions_that_cannot_be_judged_follow_home_assistant() -> None:
    # Same service calls as Home Assistant 2024.3.3: an error in choose/if conditions is "not
    # matched", a condition step with an error stops the run.
    async def body(s: Scenario) -> None:
        go(s, 1)
        await s.advance(1)

    yaml = """
- id: c
  trigger: {platform: event, event_type: go}
  action:
    - choose:
        - conditions: "{{ states('sensor.nope') | float > 1 }}"
          sequence: {service: test.call, data: {b: first}}
      default: {service: test.call, data: {b: default}}
    - if: "{{ states('sensor.nope') | float > 1 }}"
      then: {service: test.call, data: {b: then}}
      else: {service: test.call, data: {b: else}}
    - if:
        - or:
            - "{{ states('sensor.nope') | float > 1 }}"
            - "{{ true }}"
      then: {service: test.call, data: {b: or_true}}
    - if:
        - not:
            - condition: numeric_state
              entity_id: sensor.nope
              above: 1
      then: {service: test.call, data: {b: not_of_error}}
    - condition: "{{ states('sensor.nope') | float > 1 }}"
    - service: test.call
      data: {b: after}
"""
    s = run_scenario(yaml, body)
    assert [c.data["b"] for c in s.calls] == ["default", "else", "or_true"]
