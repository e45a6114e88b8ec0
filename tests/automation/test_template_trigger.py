"""Template trigger: result changes, rate limits and `for:` as observed in Home Assistant 2024.3.3.

Each scenario was run in Home Assistant itself (real time, the same steps); the offsets and
trigger data asserted here are what it produced.
"""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario

DOMAIN_SUM = """
- id: domain_sum
  trigger:
    platform: template
    value_template: "{{ states.battery | map(attribute='state') | map('float') | sum > 5 }}"
  action:
    service: test.call
    data:
      e: "{{ trigger.entity_id }}"
      to: "{{ trigger.to_state.state }}"
      d: "{{ trigger.description }}"
"""


def test_domain_template_renders_once_a_second_with_the_change_that_opened_the_window() -> None:
    async def body(s: Scenario) -> None:
        s.set("battery.a", "1")  # renders at once (false: armed)
        await s.advance(0.1)
        s.set("battery.b", "0.5")  # inside the second: deferred, and this is the change reported
        await s.advance(0.1)
        s.set("battery.a", "6")  # true now, but only rendered when the second is over
        await s.advance(0.1)
        s.set("battery.b", "0.7")
        await s.advance(2)
        s.set("battery.a", "0")  # over a second since the last render: at once
        await s.advance(1.5)
        s.set("battery.b", "9")
        await s.advance(0.3)

    s = run_scenario(DOMAIN_SUM, body, initial={"battery.a": "0", "battery.b": "0"})
    assert s.called() == [
        (1.0, "test.call", {"e": "battery.b", "to": 0.5, "d": "battery.b via template"}),
        (3.8, "test.call", {"e": "battery.b", "to": 9, "d": "battery.b via template"}),
    ]


def test_a_named_entity_renders_at_once_inside_a_domain_window() -> None:
    yaml = DOMAIN_SUM.replace("| sum > 5 }}", "| sum + states('sensor.bias') | float(0) > 5 }}")

    async def body(s: Scenario) -> None:
        s.set("battery.a", "1")
        await s.advance(0.1)
        s.set("battery.a", "2")  # deferred to 1.0
        await s.advance(0.1)
        s.set("sensor.bias", "4")  # named: renders now (7 > 5) and drops the deferred render
        await s.advance(3)

    s = run_scenario(yaml, body, initial={"battery.a": "0", "sensor.bias": "0"})
    assert s.called() == [(0.2, "test.call", {"e": "sensor.bias", "to": 4, "d": "sensor.bias via template"})]


def test_all_states_template_renders_once_a_minute() -> None:
    yaml = """
- id: any_go
  trigger:
    platform: template
    value_template: "{{ states | selectattr('state', 'eq', 'go') | list | count > 0 }}"
  action: {service: test.call, data: {e: "{{ trigger.entity_id }}"}}
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.q", "x")  # renders at once (false)
        await s.advance(5)
        s.set("switch.z", "go")  # deferred to a minute after the last render
        await s.advance(120)

    s = run_scenario(yaml, body)
    assert s.called() == [(60.0, "test.call", {"e": "switch.z"})]


SENSOR_FOR = """
- id: held
  trigger:
    platform: template
    value_template: "{{ states('sensor.x') | int(0) }}"
    for: {seconds: 2}
  action: {service: test.call, data: {to: "{{ trigger.to_state.state }}", for: "{{ trigger.for }}"}}
"""


def test_a_truthy_result_changing_to_another_cancels_the_hold_for_good() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.x", "3")  # true: holds for 2 s
        await s.advance(0.5)
        s.set("sensor.x", "4")  # another true result: the hold is cancelled and not restarted
        await s.advance(3)
        s.set("sensor.x", "0")
        s.set("sensor.x", "5")  # armed again: holds from 3.5
        await s.advance(0.5)
        s.set("sensor.x", "5", {"a": 1})  # the same result: the hold goes on
        await s.advance(2.5)
        s.set("sensor.x", "0")
        s.set("sensor.x", "7")  # holds from 6.5
        await s.advance(0.5)
        s.set("sensor.x", "oops")  # renders 0: cancelled, armed
        await s.advance(0.2)
        s.set("sensor.x", "7")  # holds from 7.2
        await s.advance(3)

    s = run_scenario(SENSOR_FOR, body, initial={"sensor.x": "0"})
    assert s.called() == [
        (5.5, "test.call", {"to": 5, "for": "0:00:02"}),
        (9.2, "test.call", {"to": 7, "for": "0:00:02"}),
    ]


def test_counting_a_domain_renders_on_entities_added_not_on_their_changes() -> None:
    yaml = """
- id: third_sensor
  trigger: {platform: template, value_template: "{{ states.sensor | count > 2 }}"}
  action: {service: test.call, data: {e: "{{ trigger.entity_id }}"}}
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.a", "2")  # a change, not an entity added: no render, so no window opens
        await s.advance(0.3)
        s.set("sensor.c", "1")  # added: renders at once
        await s.advance(2)

    s = run_scenario(yaml, body, initial={"sensor.a": "1", "sensor.b": "1"})
    assert s.called() == [(0.3, "test.call", {"e": "sensor.c"})]
