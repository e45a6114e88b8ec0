"""State trigger behaviour, checked against Home Assistant's documented and observed rules."""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario

CALL = """
  action:
    - service: test.call
      data: {to: "{{ trigger.to_state.state if trigger.to_state else none }}", id: "{{ trigger.id }}"}
"""


def auto(trigger: str) -> str:
    return f"- id: t\n  trigger: {trigger}\n{CALL}"


def test_to_and_from_lists_match_any_of_them() -> None:
    async def body(s: Scenario) -> None:
        for value in ("idle", "charging", "idle", "full", "error", "charging"):
            s.set("sensor.ev", value)
            await s.advance(1)

    s = run_scenario(auto('{platform: state, entity_id: sensor.ev, from: [idle, error], to: [charging, full]}'), body)
    assert [c[2]["to"] for c in s.called()] == ["charging", "full", "charging"]


def test_no_from_or_to_fires_on_attribute_only_changes() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.p", "1", {"phase": 1})
        await s.advance(1)
        s.set("sensor.p", "1", {"phase": 2})
        await s.advance(1)

    s = run_scenario(auto("{platform: state, entity_id: sensor.p}"), body, initial={"sensor.p": "1"})
    assert len(s.calls) == 2


def test_to_null_ignores_attribute_only_changes() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.p", "1", {"phase": 2})
        await s.advance(1)
        s.set("sensor.p", "2", {"phase": 2})
        await s.advance(1)

    s = run_scenario(auto("{platform: state, entity_id: sensor.p, to: null}"), body, initial={"sensor.p": "1"})
    assert [c[2]["to"] for c in s.called()] == [2]


def test_attribute_trigger_fires_only_when_that_attribute_changes() -> None:
    async def body(s: Scenario) -> None:
        s.set("battery.main", "1.0", {"soc": 50, "temp": 20})
        await s.advance(1)
        s.set("battery.main", "2.0", {"soc": 50, "temp": 21})
        await s.advance(1)
        s.set("battery.main", "2.0", {"soc": 80, "temp": 21})
        await s.advance(1)

    s = run_scenario(auto("{platform: state, entity_id: battery.main, attribute: soc, to: 80}"), body,
                     initial={"battery.main": "0"})
    assert [c[0] for c in s.called()] == [2.0]


def test_not_from_and_not_to_exclude_states() -> None:
    async def body(s: Scenario) -> None:
        for value in ("unavailable", "5", "6", "unknown", "7"):
            s.set("sensor.x", value)
            await s.advance(1)

    s = run_scenario(
        auto("{platform: state, entity_id: sensor.x, not_from: [unavailable, unknown], not_to: unknown}"), body,
        initial={"sensor.x": "4"},
    )
    assert [c[2]["to"] for c in s.called()] == ["unavailable", 6]


def test_for_fires_after_the_state_held_and_to_state_is_the_starting_state() -> None:
    async def body(s: Scenario) -> None:
        s.set("switch.pump", "on", {"n": 1})
        await s.advance(60)
        s.set("switch.pump", "on", {"n": 2})  # an attribute change does not reset `for`
        await s.advance(300)

    yaml = """
- id: t
  trigger: {platform: state, entity_id: switch.pump, to: "on", for: "00:05:00"}
  action:
    - service: test.call
      data: {n: "{{ trigger.to_state.attributes.n }}", for: "{{ trigger.for.total_seconds() }}"}
"""
    s = run_scenario(yaml, body, initial={"switch.pump": "off"})
    assert s.called() == [(300.0, "test.call", {"n": 1, "for": 300.0})]


def test_for_is_reset_when_the_state_leaves_and_comes_back() -> None:
    async def body(s: Scenario) -> None:
        s.set("switch.pump", "on")
        await s.advance(100)
        s.set("switch.pump", "off")
        await s.advance(10)
        s.set("switch.pump", "on")
        await s.advance(500)

    s = run_scenario(auto('{platform: state, entity_id: switch.pump, to: "on", for: {minutes: 5}}'), body,
                     initial={"switch.pump": "off"})
    assert [c[0] for c in s.called()] == [410.0]


def test_for_as_number_and_template() -> None:
    async def body(s: Scenario) -> None:
        s.set("switch.a", "on")
        s.set("switch.b", "on")
        await s.advance(100)

    yaml = """
- id: number
  trigger: {platform: state, entity_id: switch.a, to: "on", for: 30}
  action: {service: test.call, data: {which: a}}
- id: template
  trigger_variables: {hold: 45}
  trigger: {platform: state, entity_id: switch.b, to: "on", for: "{{ hold }}"}
  action: {service: test.call, data: {which: b}}
"""
    s = run_scenario(yaml, body, initial={"switch.a": "off", "switch.b": "off"})
    assert s.called() == [(30.0, "test.call", {"which": "a"}), (45.0, "test.call", {"which": "b"})]


def test_from_only_with_for_fires_while_the_old_state_stays_away() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.mode", "b")
        await s.advance(5)
        s.set("sensor.mode", "c")  # still not "a": keeps the timer
        await s.advance(20)

    s = run_scenario(auto("{platform: state, entity_id: sensor.mode, from: a, for: 10}"), body,
                     initial={"sensor.mode": "a"})
    assert [c[0] for c in s.called()] == [10.0]


def test_several_entities_each_have_their_own_for_timer() -> None:
    async def body(s: Scenario) -> None:
        s.set("switch.a", "on")
        await s.advance(3)
        s.set("switch.b", "on")
        await s.advance(20)

    yaml = """
- id: t
  mode: parallel
  trigger: {platform: state, entity_id: [switch.a, switch.b], to: "on", for: 10}
  action: {service: test.call, data: {entity: "{{ trigger.entity_id }}"}}
"""
    s = run_scenario(yaml, body, initial={"switch.a": "off", "switch.b": "off"})
    assert s.called() == [(10.0, "test.call", {"entity": "switch.a"}), (13.0, "test.call", {"entity": "switch.b"})]


def test_trigger_variables_hold_home_assistant_keys() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.a", "2")
        await s.advance(1)

    yaml = """
- id: t
  trigger: {trigger: state, entity_id: sensor.a, id: my-id}
  action:
    service: test.call
    data:
      platform: "{{ trigger.platform }}"
      entity: "{{ trigger.entity_id }}"
      from: "{{ trigger.from_state.state }}"
      to: "{{ trigger.to_state.state }}"
      id: "{{ trigger.id }}"
      idx: "{{ trigger.idx }}"
      description: "{{ trigger.description }}"
"""
    s = run_scenario(yaml, body, initial={"sensor.a": "1"})
    assert s.called()[0][2] == {"platform": "state", "entity": "sensor.a", "from": 1, "to": 2, "id": "my-id",
                                "idx": 0, "description": "state of sensor.a"}


def test_no_from_or_to_with_for_an_attribute_change_starts_a_second_timer_as_home_assistant() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.p", "2")            # t=0: timer to t=10
        await s.advance(4)
        s.set("sensor.p", "2", {"a": 1})  # t=4: the first timer holds (same state), a second one to t=14
        await s.advance(30)

    yaml = """
- id: t
  mode: parallel
  trigger: {platform: state, entity_id: sensor.p, for: 10}
  action: {service: test.call}
"""
    s = run_scenario(yaml, body, initial={"sensor.p": "1"})
    assert [c.offset for c in s.calls] == [10.0, 14.0]
