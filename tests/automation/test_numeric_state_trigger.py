"""numeric_state: fires on crossing into the range; arming as Home Assistant does it."""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario


def auto(options: str) -> str:
    return f"""
- id: n
  mode: parallel
  trigger: {{platform: numeric_state, entity_id: sensor.grid, {options}}}
  action:
    - service: test.call
      data: {{value: "{{{{ trigger.to_state.state }}}}"}}
"""


async def feed(s: Scenario, *values: str) -> None:
    for value in values:
        s.set("sensor.grid", value)
        await s.advance(1)


def fired(s: Scenario) -> list[object]:
    return [c[2]["value"] for c in s.called()]


def test_fires_only_on_crossing_and_rearms_after_leaving() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "3", "6", "7", "8", "4", "9", "9.5")

    s = run_scenario(auto("above: 5"), body, initial={"sensor.grid": "1"})
    assert fired(s) == [6, 9]


def test_starting_inside_the_range_is_not_armed() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "8", "2", "7")

    s = run_scenario(auto("above: 5"), body, initial={"sensor.grid": "6"})
    assert fired(s) == [7]


def test_unavailable_and_unknown_arm_the_trigger() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "unavailable", "8", "unknown", "9")

    s = run_scenario(auto("above: 5"), body, initial={"sensor.grid": "7"})
    assert fired(s) == [8, 9]


def test_a_non_numeric_state_neither_arms_nor_disarms() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "error", "8", "2", "error", "9")

    s = run_scenario(auto("above: 5"), body, initial={"sensor.grid": "7"})
    # "error" did not arm (7 -> error -> 8 does not fire); 2 armed; "error" kept it armed.
    assert fired(s) == [9]


def test_range_with_above_and_below() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "15", "12", "25", "18")

    s = run_scenario(auto("above: 10, below: 20"), body, initial={"sensor.grid": "0"})
    assert fired(s) == [15, 18]  # 12 stays inside; 25 leaves and re-arms


def test_thresholds_from_entities() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "4.5", "5.5")
        s.set("number.limit", "6")
        await feed(s, "5", "6.5")

    s = run_scenario(auto("above: number.limit"), body, initial={"sensor.grid": "0", "number.limit": "5"})
    assert fired(s) == [5.5, 6.5]


def test_attribute_and_value_template() -> None:
    async def body(s: Scenario) -> None:
        s.set("battery.main", "1", {"soc": 50})
        await s.advance(1)
        s.set("battery.main", "1", {"soc": 15})
        await s.advance(1)
        s.set("sensor.w", "2500")
        await s.advance(1)

    yaml = """
- id: soc
  trigger: {platform: numeric_state, entity_id: battery.main, attribute: soc, below: 20}
  action: {service: test.call, data: {which: soc}}
- id: kw
  trigger:
    platform: numeric_state
    entity_id: sensor.w
    value_template: "{{ state.state | float / 1000 }}"
    above: 2
  action: {service: test.call, data: {which: kw}}
"""
    s = run_scenario(yaml, body, initial={"battery.main": "1", "sensor.w": "100"})
    assert s.called() == [(1.0, "test.call", {"which": "soc"}), (2.0, "test.call", {"which": "kw"})]


def test_for_waits_and_to_state_is_the_state_that_started_the_timer() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "6")
        await feed(s, "7", "8")
        await s.advance(60)

    s = run_scenario(auto("above: 5, for: 10"), body, initial={"sensor.grid": "1"})
    assert s.called() == [(10.0, "test.call", {"value": 6})]


def test_for_is_cancelled_when_the_value_leaves_the_range_and_restarts_on_return() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "6")       # t=0, timer to t=10
        await s.advance(4)       # t=5
        await feed(s, "3", "7")  # leaves at t=5, returns at t=6, timer to t=16
        await s.advance(30)

    s = run_scenario(auto("above: 5, for: {seconds: 10}"), body, initial={"sensor.grid": "1"})
    assert s.called() == [(16.0, "test.call", {"value": 7})]


def test_a_for_template_sees_the_trigger_variables_not_the_value_templates_state() -> None:
    """`state` belongs to the value_template alone: a `for:` template sees the trigger's own
    variables (here a trigger variable called `state`), as Home Assistant renders it."""

    async def body(s: Scenario) -> None:
        await feed(s, "6")
        await s.advance(60)

    yaml = """
- id: n
  trigger_variables: {state: 7}
  trigger:
    platform: numeric_state
    entity_id: sensor.grid
    value_template: "{{ state.state | float(0) }}"
    above: 5
    for: "{{ state if state is number else 3 }}"
  action:
    - service: test.call
"""
    s = run_scenario(yaml, body, initial={"sensor.grid": "1"})
    assert s.called() == [(7.0, "test.call", {})]
