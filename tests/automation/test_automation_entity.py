"""Automation entities, their services, the events a run fires, traces kept across restarts, reload."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orbiteos.automation import async_setup, get_manager
from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import load_config
from orbiteos.core import Context, Hub, ServiceCall, SiteConfig
from tests.automation.scenario import START, Scenario, run_scenario

TWO = """
- id: peak_shaving
  alias: Peak shaving
  trigger: {platform: state, entity_id: sensor.grid, id: grid}
  condition: "{{ states('sensor.grid') | float(0) > 5 }}"
  action: {service: test.call, data: {kw: "{{ states('sensor.grid') }}"}}
- alias: "Night charge (EV)"
  initial_state: false
  trigger: {platform: event, event_type: go}
  action: {service: test.other}
"""


def test_entity_ids_state_and_attributes() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.grid", "7")
        await s.advance(1)
        state = s.hub.states.get("automation.peak_shaving")
        assert state is not None and state.state == "on"
        assert state.attributes["friendly_name"] == "Peak shaving"
        assert state.attributes["last_triggered"] == START  # a datetime, as Home Assistant's
        assert state.attributes["current"] == 0 and state.attributes["id"] == "peak_shaving"
        off = s.hub.states.get("automation.night_charge_ev")
        assert off is not None and off.state == "off"
        s.hub.bus.fire("go")
        await s.advance(1)

    s = run_scenario(TWO, body)
    assert s.services() == ["test.call"]


def test_services_trigger_turn_on_turn_off_toggle() -> None:
    async def body(s: Scenario) -> None:
        call = s.hub.services.call
        await call("automation", "trigger", target={"entity_id": "automation.peak_shaving"})  # skips conditions
        await call("automation", "trigger", {"entity_id": "automation.peak_shaving", "skip_condition": False})
        await call("automation", "turn_on", target={"entity_id": "automation.night_charge_ev"})
        s.hub.bus.fire("go")
        await s.advance(1)
        await call("automation", "toggle", {"entity_id": "automation.night_charge_ev"})
        s.hub.bus.fire("go")
        await s.advance(1)
        await call("automation", "turn_off", {"entity_id": "automation.peak_shaving"})
        s.set("sensor.grid", "9")
        await s.advance(1)
        assert s.hub.states.get("automation.peak_shaving").state == "off"

    s = run_scenario(TWO, body, initial={"sensor.grid": "1"})
    assert s.services() == ["test.call", "test.other"]


def test_turn_off_stops_running_actions() -> None:
    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go")
        await s.advance(1)
        await s.hub.services.call("automation", "turn_off", {"entity_id": "automation.slow"})
        await s.advance(100)

    yaml = """
- id: slow
  alias: slow
  trigger: {platform: event, event_type: go}
  action: [{delay: 10}, {service: test.call}]
"""
    s = run_scenario(yaml, body)
    assert s.calls == []
    assert s.traces("slow")[0]["result"] == "cancelled"


def test_triggered_event_and_service_calls_share_the_run_context() -> None:
    origin = Context()
    own: list[Any] = []

    async def body(s: Scenario) -> None:
        s.hub.states.listen("automation.peak_shaving", lambda event: own.append(event.data["new_state"]))
        s.hub.states.set("sensor.grid", "8", context=origin)
        await s.advance(1)

    s = run_scenario(TWO, body)
    triggered = [e for e in s.events if e.event_type == "automation_triggered"]
    assert len(triggered) == 1
    assert triggered[0].data == {"name": "Peak shaving", "entity_id": "automation.peak_shaving",
                                 "source": "state of sensor.grid"}
    assert triggered[0].context.parent_id == origin.id
    assert s.calls[0].context.id == triggered[0].context.id
    finished = [e for e in s.events if e.event_type == "automation_run_finished"]
    assert finished[0].data["result"] == "finished" and finished[0].data["automation_id"] == "peak_shaving"
    assert finished[0].data["run_id"] == triggered[0].context.id
    trace = finished[0].data["trace"]
    # The trace is a read-only mapping, built on first read, whose content is plain JSON.
    assert isinstance(trace, Mapping)
    json.dumps({**finished[0].data, "trace": dict(trace)})
    assert trace["trigger"]["to_state"]["state"] == "8"
    assert trace["context"]["parent_id"] == origin.id
    service_step = next(step for step in trace["steps"] if "service" in step)
    assert service_step["service"] == "test.call" and service_step["data"] == {"kw": 8}
    # The automation's own state, `current` up and down in the run, carries the run's context.
    assert [state.attributes["current"] for state in own] == [1, 0]
    assert {state.context.id for state in own} == {triggered[0].context.id}


def test_traces_keep_the_last_n_runs() -> None:
    async def body(s: Scenario) -> None:
        for n in range(5):
            s.hub.bus.fire("go", {"n": n})
            await s.advance(1)

    yaml = """
- id: t
  trace: {stored_traces: 3}
  trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {n: "{{ trigger.event.data.n }}"}}
"""
    s = run_scenario(yaml, body)
    assert [t["trigger"]["event"]["data"]["n"] for t in s.traces("t")] == [2, 3, 4]


def _write_config(config_dir: Path, automations: str) -> None:
    (config_dir / "configuration.yaml").write_text("orbiteos:\n  name: Test\nautomation: !include automations.yaml\n")
    (config_dir / "automations.yaml").write_text(textwrap.dedent(automations))


async def _hub_from(config_dir: Path, clock: VirtualClock) -> tuple[Hub, list[str]]:
    loaded = load_config(config_dir)
    assert loaded.ok, [str(e) for e in loaded.errors]
    hub = Hub(clock, SiteConfig(config_dir=config_dir))
    calls: list[str] = []
    hub.services.register("test", "call", lambda call: calls.append(str(call.data.get("n"))))
    await async_setup(hub, loaded.blocks["automation"])
    await hub.start()
    return hub, calls


def test_traces_are_kept_across_restarts(tmp_path: Path) -> None:
    _write_config(tmp_path, """
        - id: t
          trigger: {platform: event, event_type: go}
          action: {service: test.call, data: {n: "{{ trigger.event.data.n }}"}}
    """)

    async def first(clock: VirtualClock) -> None:
        hub, _ = await _hub_from(tmp_path, clock)
        hub.bus.fire("go", {"n": 1})
        await hub.wait_idle()
        await hub.stop()

    async def second(clock: VirtualClock) -> list[dict]:
        hub, _ = await _hub_from(tmp_path, clock)
        traces = get_manager(hub).get("t").traces()
        await hub.stop()
        return traces

    run_virtual(first, START)
    assert (tmp_path / ".storage" / "traces.json").exists()
    traces = run_virtual(second, START)
    assert [t["result"] for t in traces] == ["finished"]
    assert traces[0]["trigger"]["event"]["data"] == {"n": 1}


def test_reload_rereads_yaml_and_a_broken_file_leaves_the_running_set(tmp_path: Path) -> None:
    _write_config(tmp_path, """
        - id: old
          alias: old
          trigger: {platform: event, event_type: go}
          action: {service: test.call, data: {n: old}}
    """)

    async def main(clock: VirtualClock) -> list[str]:
        hub, calls = await _hub_from(tmp_path, clock)
        (tmp_path / "automations.yaml").write_text("- id: new\n  trigger: {platform: nope}\n  action: []\n")
        errors = await get_manager(hub).reload()
        assert errors and "unknown trigger platform 'nope'" in str(errors[0])
        assert str(errors[0]).startswith("automations.yaml:2")
        hub.bus.fire("go")
        await hub.wait_idle()
        (tmp_path / "automations.yaml").write_text(
            "- id: new\n  alias: new\n  trigger: {platform: event, event_type: go}\n"
            "  action: {service: test.call, data: {n: new}}\n"
        )
        await hub.services.call("automation", "reload")
        assert hub.states.get("automation.old") is None and hub.states.get("automation.new") is not None
        hub.bus.fire("go")
        await hub.wait_idle()
        await hub.stop()
        return calls

    assert run_virtual(main, START) == ["old", "new"]


def test_api_trigger_waits_for_the_run() -> None:
    async def main(clock: VirtualClock) -> list[str]:
        hub = Hub(clock)
        calls: list[str] = []

        def record(call: ServiceCall) -> None:
            calls.append(call.data["v"])

        hub.services.register("test", "call", record)
        from tests.automation.scenario import load

        await async_setup(hub, load("""
- id: a
  trigger: {platform: event, event_type: never}
  action: [{delay: 5}, {service: test.call, data: {v: "{{ who }}"}}]
"""))
        automation = get_manager(hub).automations[0]
        async with asyncio.timeout(60):
            await automation.trigger({"who": "api"})
        assert calls == ["api"]
        await hub.stop()
        return calls

    assert run_virtual(main, START) == ["api"]


def test_turning_off_from_inside_its_own_run_cancels_the_run_not_the_caller() -> None:
    async def body(s: Scenario) -> None:
        await s.hub.services.call("automation", "trigger", {"entity_id": "automation.self_off"})
        await s.advance(1)
        s.hub.bus.fire("after")
        await s.advance(1)

    yaml = """
- id: self_off
  alias: self_off
  mode: restart
  trigger: {platform: event, event_type: never}
  action:
    - service: test.call
    - service: automation.turn_off
      target: {entity_id: automation.self_off}
    - service: test.other
- id: still_running
  trigger: {platform: event, event_type: after}
  action: {service: test.other}
"""
    s = run_scenario(yaml, body)
    assert s.services() == ["test.call", "test.other"]
    assert s.traces("self_off")[0]["result"] == "cancelled"


def test_same_alias_twice_gets_a_suffix_and_a_failing_trigger_leaves_the_others(caplog) -> None:  # noqa: ANN001
    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go")
        await s.advance(1)

    yaml = """
- alias: Charge
  trigger:
    - {platform: webhook, webhook_id: same}
    - {platform: event, event_type: go}
  action: {service: test.call, data: {n: 1}}
- alias: Charge
  trigger:
    - {platform: webhook, webhook_id: same}
    - {platform: event, event_type: go}
  action: {service: test.call, data: {n: 2}}
"""
    s = run_scenario(yaml, body)
    assert s.hub.states.get("automation.charge") is not None
    assert s.hub.states.get("automation.charge_2") is not None
    assert sorted(c.data["n"] for c in s.calls) == [1, 2]
    assert "charge_2: trigger 0 (webhook) failed to attach: webhook id 'same' is already registered" in caplog.text


def test_an_automation_triggered_by_a_finished_run_sees_the_trace_as_a_plain_dict() -> None:
    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go")
        await s.advance(1)

    yaml = """
- id: first
  trigger: {platform: event, event_type: go}
  action: [{service: test.call, data: {n: 1}}]
- id: watcher
  trigger:
    platform: event
    event_type: automation_run_finished
    event_data: {automation_id: first}
  action:
    - service: test.other
      data:
        trigger: "{{ trigger.event.data.trace.trigger.description }}"
        result: "{{ trigger.event.data.trace.result }}"
        state: "{{ trigger.event.data.trace.trigger.event.event_type }}"
        json: "{{ trigger.event.data.trace | tojson }}"
"""
    s = run_scenario(yaml, body)
    watched = [c for c in s.calls if c.service == "test.other"]
    assert len(watched) == 1
    data = watched[0].data
    assert data["trigger"] == "event 'go'" and data["result"] == "finished"
    assert json.loads(data["json"])["automation_id"] == "first"


def test_entity_ids_come_from_the_alias_as_home_assistant_names_them() -> None:
    """The same list run in Home Assistant 2024.3.3 gave these entity ids, names and `this.entity_id`s."""
    yaml = """
- id: peak_1
  alias: Peak shaving (main)
  trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {me: "{{ this.entity_id }}"}}
- trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {me: "{{ this.entity_id }}"}}
- id: x2
  trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {me: "{{ this.entity_id }}"}}
- alias: Peak shaving (main)
  trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {me: "{{ this.entity_id }}"}}
- alias: Überschuß laden
  trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {me: "{{ this.entity_id }}"}}
"""

    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go")
        await s.idle()

    s = run_scenario(yaml, body)
    states = {state.entity_id: state.attributes for state in s.hub.states.all("automation")}
    named = [(entity_id, attributes["friendly_name"], attributes.get("id")) for entity_id, attributes in states.items()]
    assert named == [
        ("automation.peak_shaving_main", "Peak shaving (main)", "peak_1"),
        ("automation.automation_1", "automation 1", None),
        ("automation.automation_2", "automation 2", "x2"),
        ("automation.peak_shaving_main_2", "Peak shaving (main)", None),
        ("automation.uberschuss_laden", "Überschuß laden", None),
    ]
    assert sorted(call[2]["me"] for call in s.called()) == sorted(states)
    # The id is still the automation's unique id: its traces and the API find it by it.
    assert get_manager(s.hub).get("x2") is get_manager(s.hub).get("automation.automation_2")
