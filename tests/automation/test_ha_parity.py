"""Behaviours where OrbitEOS once differed from Home Assistant 2024.3.3, each as HA does it.

Every expected list here is what HA 2024.3.3 called for the same automation and state writes
(run in HA itself; see docs/automations.md, "Differences from Home Assistant").
"""

from __future__ import annotations

from datetime import timedelta

from tests.automation.scenario import START, Scenario, run_scenario


def values(s: Scenario, service: str = "test.call") -> list[dict[str, object]]:
    return [data for _, name, data in s.called() if name == service]


def test_numeric_state_on_a_missing_attribute_is_no_match_and_rearms() -> None:
    yaml = """
- id: soc
  mode: parallel
  trigger: {platform: numeric_state, entity_id: sensor.x, attribute: soc, above: 50}
  action: {service: test.call, data: {v: "{{ trigger.to_state.attributes.soc }}"}}
- id: templated
  mode: parallel
  trigger:
    platform: numeric_state
    entity_id: sensor.x
    value_template: "{{ state.attributes.t | default('unknown') }}"
    above: 50
  action: {service: test.other, data: {v: "{{ trigger.to_state.attributes.t }}"}}
"""

    async def body(s: Scenario) -> None:
        for attributes in ({"soc": 60}, {}, {"soc": 70}, {"t": 60}, {"t": "unknown"}, {"t": 70}):
            s.set("sensor.x", "1", attributes)
            await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "1"})
    # The attribute going away re-armed the trigger; so did the template rendering `unknown`.
    assert values(s) == [{"v": 60}, {"v": 70}]
    assert values(s, "test.other") == [{"v": 60}, {"v": 70}]


def test_condition_list_shorthand_is_and_at_top_level_and_nested() -> None:
    yaml = """
- id: shorthand
  mode: parallel
  trigger: {platform: state, entity_id: sensor.x}
  condition:
    - condition: ["{{ true }}", "{{ trigger.to_state.state | int > 2 }}"]
  action:
    - service: test.call
      data: {v: "{{ trigger.to_state.state }}"}
    - if:
        - condition: or
          conditions: [{condition: ["{{ false }}"]}, {not: [{condition: ["{{ true }}"]}]}]
      then: [{service: test.other, data: {branch: then}}]
      else: [{service: test.other, data: {branch: else}}]
"""

    async def body(s: Scenario) -> None:
        for value in ("2", "3"):
            s.set("sensor.x", value)
            await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "1"})
    assert s.services() == ["test.call", "test.other"]
    assert values(s) == [{"v": 3}]
    assert values(s, "test.other") == [{"branch": "else"}]


def test_trigger_variables_are_run_variables_but_not_trigger_level_ones() -> None:
    yaml = """
- id: tv
  trigger_variables: {limit: 5, name: "{{ 'grid' }}"}
  variables: {double: "{{ limit * 2 }}"}
  trigger:
    - platform: numeric_state
      entity_id: sensor.x
      above: 5
      variables: {tv: "{{ limit | default('undefined') }}", trig: "{{ trigger.entity_id }}"}
  condition: "{{ limit == 5 }}"
  action:
    service: test.call
    data: {limit: "{{ limit }}", double: "{{ double }}", name: "{{ name }}", tv: "{{ tv }}", trig: "{{ trig }}"}
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "6")
        await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "1"})
    assert values(s) == [{"limit": 5, "double": 10, "name": "grid", "tv": "undefined", "trig": "sensor.x"}]


def test_continue_on_error_passes_service_template_errors_and_event_data_errors_do_not_stop() -> None:
    yaml = """
- id: errors
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - service: test.call
      continue_on_error: true
      data: {v: "{{ states('sensor.x') | float * undefined_thing.x }}"}
    - service: test.call
      continue_on_error: true
      target: {entity_id: "{{ 'abc' | float }}"}
    - event: my_event
      event_data: {v: "{{ 'abc' | float }}"}
      event_data_template: {w: 1}
    - service: test.other
      data: {after: 1}
    - service: test.call
      data: {v: "{{ 'abc' | float }}"}
    - service: test.other
      data: {after: 2}
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "2")
        await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "1"})
    # Both failing calls skipped; the event fired with the part that rendered; the call without
    # continue_on_error ended the run as an error.
    assert s.services() == ["test.other"]
    fired = [e for e in s.events if e.event_type == "my_event"]
    assert [dict(e.data) for e in fired] == [{"w": 1}]
    (trace,) = s.traces("errors")
    assert trace["result"] == "error" and "abc" in trace["error"]


def test_stop_in_a_parallel_branch_lets_siblings_finish_and_skips_what_follows() -> None:
    yaml = """
- id: stop_branch
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - parallel:
        - sequence: [{delay: 2}, {service: test.call, data: {b: 1}}]
        - stop: done
        - sequence: [{service: test.call, data: {b: 3}}]
    - service: test.other
      data: {after: stop}
- id: error_branch
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - parallel:
        - sequence: [{delay: 3}, {service: test.call, data: {c: 1}}]
        - {stop: broken, error: true}
    - service: test.other
      data: {after: error}
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "2")
        await s.advance(5)

    s = run_scenario(yaml, body, initial={"sensor.x": "1"})
    assert s.called() == [
        (0.0, "test.call", {"b": 3}),
        (2.0, "test.call", {"b": 1}),
        (3.0, "test.call", {"c": 1}),
    ]
    assert s.traces("stop_branch")[0]["result"] == "stopped"
    assert s.traces("error_branch")[0]["result"] == "error"


def test_template_condition_passes_only_on_literal_true() -> None:
    checks = ["2", "'on'", "'yes'", "1", "' true '", "'TRUE'", "true", "'false'", "0"]
    steps = "\n".join(
        f"""    - if: "{{{{ {value} }}}}"
      then: [{{service: test.call, data: {{v: "{value}"}}}}]"""
        for value in checks
    )
    yaml = f"""
- id: literal
  trigger: {{platform: state, entity_id: sensor.x}}
  action:
{steps}
    - wait_template: "{{{{ 'on' }}}}"
      timeout: 1
    - service: test.other
      data: {{completed: "{{{{ wait.completed }}}}"}}
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "2")
        await s.advance(2)

    s = run_scenario(yaml, body, initial={"sensor.x": "1"})
    assert [c["v"] for c in values(s)] == ["' true '", "'TRUE'", "true"]
    # wait_template's first look is a template condition too: 'on' is not true, so it waits out.
    assert s.called()[-1] == (1.0, "test.other", {"completed": False})


def test_this_last_triggered_is_a_datetime() -> None:
    yaml = """
- id: since
  alias: since
  mode: queued
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - service: test.call
      data:
        first: "{{ this.attributes.last_triggered is none }}"
        since_s: >-
          {{ (now() - this.attributes.last_triggered).total_seconds()
             if this.attributes.last_triggered else -1 }}
        changed_is_text: "{{ this.last_changed is string }}"
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "2")
        await s.advance(90)
        s.set("sensor.x", "3")
        await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "1"})
    assert values(s) == [
        {"first": True, "since_s": -1, "changed_is_text": True},
        {"first": False, "since_s": 90.0, "changed_is_text": True},
    ]
    state = s.hub.states.get("automation.since")
    assert state is not None and state.attributes["last_triggered"] == START + timedelta(seconds=90)


# --- further differences found by running the dialect through Home Assistant 2024.3.3 ------------


def test_service_data_and_target_as_one_template_and_how_target_merges() -> None:
    yaml = """
- id: calls
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - service: test.call
      data: "{{ {'k': 'templated', 'v': trigger.to_state.state | int} }}"
    - service: test.call
      target: "{{ {'entity_id': ['sensor.a', 'sensor.b']} }}"
      data: {k: target_template}
    - service: test.call
      target: {entity_id: sensor.c}
      data: {k: target_wins, entity_id: sensor.d}
    - service: test.call
      target: {device_id: abc, area_id: [x]}
      data: {k: lists}
    - service: test.call
      continue_on_error: true
      data: "{{ [1, 2] }}"
    - service: test.call
      data: {k: after}
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "1")
        await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "0"})
    assert values(s) == [
        {"k": "templated", "v": 1},
        {"entity_id": ["sensor.a", "sensor.b"], "k": "target_template"},
        {"entity_id": ["sensor.c"], "k": "target_wins"},
        {"device_id": ["abc"], "area_id": ["x"], "k": "lists"},
        {"k": "after"},  # data that is not a mapping failed that call only
    ]


def test_state_condition_reads_an_input_entity_named_as_the_wanted_state() -> None:
    yaml = """
- id: mode
  mode: queued
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - if: [{condition: state, entity_id: sensor.m, state: input_select.mode}]
      then: [{service: test.call, data: {k: same}}]
      else: [{service: test.call, data: {k: different}}]
    - if: [{condition: state, entity_id: sensor.m, state: [boost, input_select.missing]}]
      then: [{service: test.other, data: {k: then}}]
      else: [{service: test.other, data: {k: else}}]
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "1")
        await s.advance(1)
        s.set("input_select.mode", "boost")
        s.set("sensor.x", "2")
        await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "0", "sensor.m": "eco", "input_select.mode": "eco"})
    assert values(s) == [{"k": "same"}, {"k": "different"}]
    # A missing input entity cannot be judged: the condition counts as false.
    assert values(s, "test.other") == [{"k": "else"}, {"k": "else"}]


def test_manual_trigger_variables_cannot_replace_trigger() -> None:
    yaml = """
- id: manual
  alias: manual
  trigger: {platform: event, event_type: never}
  action:
    - service: test.call
      data: {trigger: "{{ trigger }}", v: "{{ v }}"}
"""
    triggered = []

    async def body(s: Scenario) -> None:
        s.hub.bus.listen("automation_triggered", lambda event: triggered.append(dict(event.data)))
        await s.hub.services.call(
            "automation", "trigger", {"entity_id": "automation.manual", "variables": {"v": 5, "trigger": "mine"}}
        )

    s = run_scenario(yaml, body)
    assert values(s) == [{"trigger": {"platform": None}, "v": 5}]
    assert triggered == [{"name": "manual", "entity_id": "automation.manual"}]  # no source


def test_scene_and_set_conversation_response_steps_load_and_run() -> None:
    yaml = """
- id: evening
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - set_conversation_response: "Done {{ trigger.to_state.state }}"
    - scene: scene.evening
    - service: test.call
      data: {k: after}
"""
    scenes = []

    async def body(s: Scenario) -> None:
        s.hub.services.register("scene", "turn_on", lambda call: scenes.append(dict(call.data)))
        s.set("sensor.x", "1")
        await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "0"})
    assert scenes == [{"entity_id": ["scene.evening"]}]
    assert values(s) == [{"k": "after"}]
    steps = {step["path"]: step for step in s.traces("evening")[0]["steps"]}
    assert steps["action/0"]["conversation_response"] == "Done 1"


def test_trigger_variables_see_this_and_a_broken_one_leaves_only_that_automation_unattached() -> None:
    yaml = """
- alias: tv
  trigger_variables: {me: "{{ this.entity_id }}"}
  trigger:
    - platform: state
      entity_id: sensor.x
      for: "{{ 0 if me == 'automation.tv' else 5 }}"
  action:
    - service: test.call
      data: {me: "{{ me }}", this: "{{ this.entity_id }}"}
- alias: broken
  trigger_variables: {bad: "{{ 'x' | float }}"}
  trigger: {platform: state, entity_id: sensor.x}
  action: [{service: test.other}]
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "1")
        await s.advance(1)

    s = run_scenario(yaml, body, initial={"sensor.x": "0"})
    assert s.called() == [(0.0, "test.call", {"me": "automation.tv", "this": "automation.tv"})]
    broken = s.hub.states.get("automation.broken")
    assert broken is not None and broken.state == "on"  # on, as in Home Assistant, but without triggers


def test_trigger_descriptions_as_home_assistant_words_them() -> None:
    yaml = """
- id: described
  mode: queued
  trigger:
    - {platform: homeassistant, event: start}
    - {platform: orbiteos, event: start}
    - {platform: time, at: sensor.start_at}
    - {platform: time, at: "12:00:20"}
  action:
    - service: test.call
      data: {d: "{{ trigger.description }}"}
"""

    async def body(s: Scenario) -> None:
        await s.advance(30)

    s = run_scenario(yaml, body, initial={"sensor.start_at": "12:00:10"})
    assert [c["d"] for c in values(s)] == [
        "Home Assistant starting", "OrbitEOS starting", "time set in sensor.start_at", "time",
    ]
