"""Actions: service calls, delays, waits, events, flow control, errors."""

from __future__ import annotations

from orbiteos.core import ServiceCall
from orbiteos.errors import DeviceUnavailable
from tests.automation.scenario import Scenario, run_scenario


def on_go(actions: str, extra: str = "") -> str:
    return f"""
- id: a
  alias: a
{extra}  trigger: {{platform: event, event_type: go}}
  action:
{actions}
"""


async def go(s: Scenario, after: float = 0, data: dict | None = None) -> None:
    s.hub.bus.fire("go", data or {})
    await s.advance(after)


def test_service_call_with_target_and_templates_everywhere() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.surplus_kw", "4.2")
        await go(s, 1, {"which": "set_power"})

    actions = """
    - action: "battery.{{ trigger.event.data.which }}"
      target: {entity_id: "battery.{{ 'main' }}"}
      data:
        power_kw: "{{ states('sensor.surplus_kw') | float * -1 }}"
        note: static
        nested: {values: ["{{ 1 + 1 }}", 3]}
    - service: test.call
      entity_id: switch.a
      data_template: {n: "{{ '0.25' }}"}
"""
    s = run_scenario(on_go(actions), body)
    assert s.called() == [
        (0.0, "battery.set_power", {"power_kw": -4.2, "note": "static", "nested": {"values": [2, 3]},
                                    "entity_id": ["battery.main"]}),
        (0.0, "test.call", {"n": 0.25, "entity_id": ["switch.a"]}),
    ]


def test_delay_forms() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 10_000)

    actions = """
    - delay: 5
    - service: test.call
    - delay: "00:01:00"
    - service: test.call
    - delay: {minutes: 2, seconds: 30}
    - service: test.call
    - delay: "{{ 10 }}"
    - service: test.call
    - delay: {seconds: "{{ 2 * 10 }}"}
    - service: test.call
"""
    s = run_scenario(on_go(actions), body)
    assert [c.offset for c in s.calls] == [5.0, 65.0, 215.0, 225.0, 245.0]


def test_wait_template_completes_when_true_and_sets_wait() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 30)
        s.set("sensor.door", "closed")
        await s.advance(100)

    actions = """
    - wait_template: "{{ is_state('sensor.door', 'closed') }}"
      timeout: 60
    - service: test.call
      data: {completed: "{{ wait.completed }}", remaining: "{{ wait.remaining | round }}"}
"""
    s = run_scenario(on_go(actions), body, initial={"sensor.door": "open"})
    assert s.called() == [(30.0, "test.call", {"completed": True, "remaining": 30})]


def test_wait_template_timeout_continues_or_stops() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 100)

    actions = """
    - wait_template: "{{ is_state('sensor.door', 'closed') }}"
      timeout: "00:00:10"
    - service: test.call
      data: {completed: "{{ wait.completed }}"}
    - wait_template: "{{ is_state('sensor.door', 'closed') }}"
      timeout: 10
      continue_on_timeout: false
    - service: test.other
"""
    s = run_scenario(on_go(actions), body, initial={"sensor.door": "open"})
    assert s.called() == [(10.0, "test.call", {"completed": False})]
    trace = s.traces("a")[0]
    assert trace["result"] == "aborted"
    waits = [step for step in trace["steps"] if "wait" in step]
    assert [w["timed_out"] for w in waits] == [True, True]


def test_wait_for_trigger_sets_wait_trigger_or_none_on_timeout() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 5)
        s.set("ev_charger.bay1", "3.7", {"status": "Charging"})
        await s.advance(100)
        await go(s, 100)

    actions = """
    - wait_for_trigger:
        - platform: state
          entity_id: ev_charger.bay1
          attribute: status
          to: Charging
      timeout: {seconds: 30}
    - service: test.call
      data:
        got: "{{ wait.trigger.to_state.attributes.status if wait.trigger else 'timeout' }}"
"""
    s = run_scenario(on_go(actions), body, initial={"ev_charger.bay1": "0"})
    assert s.called() == [(5.0, "test.call", {"got": "Charging"}), (135.0, "test.call", {"got": "timeout"})]


def test_event_step_fires_with_data_in_the_run_context() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 1)

    actions = """
    - event: peak_shaved
      event_data: {kw: "{{ 2 * 3 }}"}
"""
    s = run_scenario(on_go(actions), body)
    fired = [e for e in s.events if e.event_type == "peak_shaved"]
    triggered = [e for e in s.events if e.event_type == "automation_triggered"]
    assert fired[0].data == {"kw": 6}
    assert fired[0].context.id == triggered[0].context.id


def test_condition_step_stops_the_run() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 1)

    actions = """
    - service: test.call
    - condition: state
      entity_id: switch.a
      state: "on"
    - service: test.other
"""
    s = run_scenario(on_go(actions), body, initial={"switch.a": "off"})
    assert s.services() == ["test.call"]
    assert s.traces("a")[0]["result"] == "aborted"


def test_choose_with_default_and_if_then_else() -> None:
    async def body(s: Scenario) -> None:
        for price in (0.05, 0.2, 0.4):
            s.set("sensor.price", price)
            await go(s, 1)

    actions = """
    - choose:
        - conditions: "{{ states('sensor.price') | float < 0.1 }}"
          sequence: {service: test.call, data: {choice: cheap}}
        - conditions:
            - condition: numeric_state
              entity_id: sensor.price
              above: 0.3
          sequence: {service: test.call, data: {choice: expensive}}
      default:
        - service: test.call
          data: {choice: normal}
    - if: "{{ states('sensor.price') | float > 0.1 }}"
      then: {service: test.other, data: {branch: then}}
      else: {service: test.other, data: {branch: else}}
"""
    s = run_scenario(on_go(actions, "  mode: queued\n"), body)
    assert [list(c.data.values())[0] for c in s.calls] == ["cheap", "else", "normal", "then", "expensive", "then"]


def test_repeat_count_while_until_for_each() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 100)

    actions = """
    - repeat:
        count: 3
        sequence: {service: test.call, data: {k: count, i: "{{ repeat.index }}", first: "{{ repeat.first }}",
                                               last: "{{ repeat.last }}"}}
    - repeat:
        while: "{{ repeat.index <= 2 }}"
        sequence: {service: test.call, data: {k: while, i: "{{ repeat.index }}"}}
    - repeat:
        until: "{{ repeat.index >= 2 }}"
        sequence: {service: test.call, data: {k: until, i: "{{ repeat.index }}"}}
    - repeat:
        for_each: [bay1, bay2]
        sequence: {service: test.call, data: {k: each, item: "{{ repeat.item }}", last: "{{ repeat.last }}"}}
    - repeat:
        for_each: "{{ ['x'] }}"
        sequence: {service: test.call, data: {k: each_template, item: "{{ repeat.item }}"}}
"""
    s = run_scenario(on_go(actions), body)
    assert [c.data for c in s.calls] == [
        {"k": "count", "i": 1, "first": True, "last": False},
        {"k": "count", "i": 2, "first": False, "last": False},
        {"k": "count", "i": 3, "first": False, "last": True},
        {"k": "while", "i": 1},
        {"k": "while", "i": 2},
        {"k": "until", "i": 1},
        {"k": "until", "i": 2},
        {"k": "each", "item": "bay1", "last": False},
        {"k": "each", "item": "bay2", "last": True},
        {"k": "each_template", "item": "x"},
    ]


def test_variables_stop_and_stop_with_error() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 1, {"fail": False})
        await go(s, 1, {"fail": True})

    actions = """
    - variables: {limit: 11, doubled: "{{ limit * 2 }}"}
    - service: test.call
      data: {doubled: "{{ doubled }}"}
    - if: "{{ trigger.event.data.fail }}"
      then: {stop: "price feed missing", error: true}
    - stop: done
    - service: test.other
"""
    s = run_scenario(on_go(actions), body)
    assert s.services() == ["test.call", "test.call"] and s.calls[0].data == {"doubled": 22}
    first, second = s.traces("a")
    assert (first["result"], first["error"]) == ("stopped", None)
    assert (second["result"], second["error"]) == ("error", "price feed missing")


def test_parallel_and_sequence() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 100)

    actions = """
    - parallel:
        - sequence:
            - delay: 10
            - service: test.call
              data: {branch: slow}
        - service: test.call
          data: {branch: fast}
        - - delay: 5
          - service: test.call
            data: {branch: list}
    - sequence:
        - service: test.other
"""
    s = run_scenario(on_go(actions), body)
    assert [(c.offset, c.data.get("branch")) for c in s.calls] == [
        (0.0, "fast"), (5.0, "list"), (10.0, "slow"), (10.0, None)
    ]


def test_continue_on_error_covers_device_errors_but_not_mistakes() -> None:
    # As Home Assistant 2024.3.3: a missing service or a template error stops the run even with
    # continue_on_error; a failure of the device behind the service does not.
    async def body(s: Scenario) -> None:
        def unreachable(call: ServiceCall) -> None:
            raise DeviceUnavailable("battery.main does not answer")

        s.hub.services.register("battery", "auto", unreachable)
        await go(s, 1, {"missing": False})
        await go(s, 1, {"missing": True})

    actions = """
    - service: battery.auto
      continue_on_error: true
    - service: test.call
      enabled: false
    - service: "{{ 'nothing.here' if trigger.event.data.missing else 'test.other' }}"
      continue_on_error: true
    - service: test.other
"""
    s = run_scenario(on_go(actions), body)
    assert s.services() == ["test.other", "test.other"]
    first, second = s.traces("a")
    assert first["result"] == "finished"
    assert any(step.get("continued") and "does not answer" in step["error"] for step in first["steps"])
    assert second["result"] == "error" and "nothing.here not found" in second["error"]


def test_missing_service_at_run_time_is_an_error_in_the_trace_not_a_crash() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 1)
        s.hub.services.register("heatpump", "set", s.record)  # the device arrives later
        await go(s, 1)

    s = run_scenario(on_go("    - service: heatpump.set\n      data: {c: 20}\n"), body)
    first, second = s.traces("a")
    assert first["result"] == "error" and "heatpump.set not found" in first["error"]
    assert second["result"] == "finished"
    assert s.services() == ["heatpump.set"]


def test_template_error_aborts_the_run_at_that_step_and_the_next_trigger_works() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 1)
        s.set("sensor.p", "2")
        await go(s, 1)

    actions = """
    - service: test.call
      data: {step: 1}
    - service: test.call
      data: {kw: "{{ states('sensor.p') | float }}"}
    - service: test.other
"""
    s = run_scenario(on_go(actions), body, initial={"sensor.p": "unavailable"})
    assert [(c.service, c.data) for c in s.calls] == [
        ("test.call", {"step": 1}), ("test.call", {"step": 1}), ("test.call", {"kw": 2.0}), ("test.other", {})
    ]
    first = s.traces("a")[0]
    assert first["result"] == "error" and "float got invalid input 'unavailable'" in first["error"]


def test_wait_template_with_now_is_looked_at_every_minute() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 3600)

    actions = """
    - wait_template: "{{ now().minute == 30 }}"
    - service: test.call
"""
    s = run_scenario(on_go(actions), body)
    assert [c.offset for c in s.calls] == [1800.0]


def test_variables_are_scoped_to_their_sequence_and_data_renders_native_types() -> None:
    # Same service calls as Home Assistant 2024.3.3 gives for this automation.
    async def body(s: Scenario) -> None:
        await go(s, 1)

    actions = """
    - variables: {x: 1}
    - if: "{{ true }}"
      then:
        - variables: {x: 2}
        - service: test.call
          data: {inner: "{{ x }}"}
    - service: test.call
      data: {x: "{{ x }}", static: "5", rendered: "{{ '5' }}", lst: "{{ [1, '2'] }}", s: "{{ 'x' }} y"}
    - repeat:
        count: 2
        sequence:
          - variables: {x: "{{ x + 10 }}"}
          - service: test.call
            data: {loop: "{{ x }}", idx: "{{ repeat.index }}"}
    - service: test.call
      data: {after: "{{ x }}"}
"""
    s = run_scenario(on_go(actions), body)
    assert [c.data for c in s.calls] == [
        {"inner": 2}, {"x": 1, "static": "5", "rendered": 5, "lst": [1, "2"], "s": "x y"},
        {"loop": 11, "idx": 1}, {"loop": 11, "idx": 2}, {"after": 1},
    ]


def test_automation_variables_render_in_order_and_do_not_override_run_variables() -> None:
    async def body(s: Scenario) -> None:
        await go(s, 1)
        await s.hub.services.call("automation", "trigger", {"entity_id": "automation.a", "variables": {"b": 100}})
        await s.advance(1)

    yaml = """
- id: a
  alias: a
  trigger: {platform: event, event_type: go}
  variables:
    a: 2
    b: "{{ a * 10 }}"
  action: {service: test.call, data: {b: "{{ b }}"}}
"""
    s = run_scenario(yaml, body)
    assert [c.data["b"] for c in s.calls] == [20, 100]
