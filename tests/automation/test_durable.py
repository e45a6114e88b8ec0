"""Durable timers: a run in a `delay:` resumes at its original deadline across a restart and a reload."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

from orbiteos.automation import async_setup, get_manager
from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import load_config
from orbiteos.core import Hub, ServiceCall, SiteConfig
from tests.automation.scenario import START

AUTOMATIONS = """
- id: discharge_later
  alias: Discharge later
  trigger: {platform: event, event_type: go}
  action:
    - service: test.call
      data: {n: "before {{ trigger.event.data.kw }}"}
    - delay: {minutes: 10}
    - service: test.call
      data: {n: "after {{ trigger.event.data.kw }}"}
"""

Calls = list[tuple[str, datetime]]


def write_config(config_dir: Path, automations: str = AUTOMATIONS) -> None:
    (config_dir / "configuration.yaml").write_text("orbiteos:\n  name: Test\nautomation: !include automations.yaml\n")
    (config_dir / "automations.yaml").write_text(textwrap.dedent(automations))


async def start(config_dir: Path, clock: VirtualClock, calls: Calls) -> Hub:
    loaded = load_config(config_dir)
    assert loaded.ok, [str(e) for e in loaded.errors]
    hub = Hub(clock, SiteConfig(config_dir=config_dir))

    def record(call: ServiceCall) -> None:
        calls.append((str(call.data["n"]), clock.now()))

    hub.services.register("test", "call", record)
    await async_setup(hub, loaded.blocks["automation"])
    await hub.start()
    return hub


def first_half(config_dir: Path, calls: Calls) -> None:
    """Trigger at START, stop the engine 4 minutes into the 10 minute delay."""

    async def main(clock: VirtualClock) -> None:
        hub = await start(config_dir, clock, calls)
        hub.bus.fire("go", {"kw": 7})
        await hub.wait_idle()
        await clock.sleep(240)
        await hub.stop()

    run_virtual(main, START)


def second_half(config_dir: Path, calls: Calls, restart: datetime) -> list[dict[str, object]]:
    """Start again at `restart`, run 20 minutes, stop; the automation's traces."""

    async def main(clock: VirtualClock) -> list[dict[str, object]]:
        hub = await start(config_dir, clock, calls)
        await clock.sleep(1200)
        traces = get_manager(hub).get("discharge_later").traces()  # type: ignore[union-attr]
        await hub.stop()
        return traces

    return run_virtual(main, restart)


def test_a_delay_resumes_at_its_original_deadline_after_a_restart(tmp_path: Path) -> None:
    write_config(tmp_path)
    calls: Calls = []
    first_half(tmp_path, calls)
    assert calls == [("before 7", START)]
    stored = json.loads((tmp_path / ".storage" / "automation_runs.json").read_text())
    assert [run["step"] for run in stored["runs"]] == [1]

    traces = second_half(tmp_path, calls, START + timedelta(minutes=7))  # down for 3 minutes
    assert calls == [("before 7", START), ("after 7", START + timedelta(minutes=10))]  # variables kept too
    assert [t["result"] for t in traces] == ["interrupted", "finished"]
    assert traces[1]["trigger_description"] == f"resumed run {traces[0]['run_id']}"


def test_a_deadline_that_passed_while_down_runs_the_rest_at_start(tmp_path: Path) -> None:
    write_config(tmp_path)
    calls: Calls = []
    first_half(tmp_path, calls)

    async def second(clock: VirtualClock) -> None:
        hub = await start(tmp_path, clock, calls)
        await clock.sleep(1)
        await hub.stop()

    run_virtual(second, START + timedelta(hours=1))
    assert calls[1:] == [("after 7", START + timedelta(hours=1))]


def test_a_changed_automation_starts_fresh_and_the_cut_run_is_interrupted(tmp_path: Path) -> None:
    write_config(tmp_path)
    calls: Calls = []
    first_half(tmp_path, calls)
    write_config(tmp_path, AUTOMATIONS.replace("minutes: 10", "minutes: 12"))

    traces = second_half(tmp_path, calls, START + timedelta(minutes=7))
    assert calls == [("before 7", START)]
    assert [t["result"] for t in traces] == ["interrupted"]
    assert json.loads((tmp_path / ".storage" / "automation_runs.json").read_text())["runs"] == []


def test_a_delay_resumes_at_its_original_deadline_across_a_reload(tmp_path: Path) -> None:
    write_config(tmp_path)
    calls: Calls = []

    async def main(clock: VirtualClock) -> None:
        hub = await start(tmp_path, clock, calls)
        hub.bus.fire("go", {"kw": 3})
        await hub.wait_idle()
        await clock.sleep(240)
        await hub.services.call("automation", "reload")
        await clock.sleep(1200)
        await hub.stop()

    run_virtual(main, START)
    assert calls == [("before 3", START), ("after 3", START + timedelta(minutes=10))]


def test_an_unclosed_trace_from_a_crash_reads_as_interrupted(tmp_path: Path) -> None:
    write_config(tmp_path)
    storage = tmp_path / ".storage"
    storage.mkdir()
    trace = {
        "run_id": "r1",
        "automation_id": "discharge_later",
        "started": START.isoformat(),
        "finished": None,
        "result": None,
        "error": None,
        "steps": [],
    }
    (storage / "traces.json").write_text(json.dumps({"version": 1, "traces": {"discharge_later": [trace]}}))

    async def main(clock: VirtualClock) -> list[dict[str, object]]:
        hub = await start(tmp_path, clock, [])
        traces = get_manager(hub).get("discharge_later").traces()  # type: ignore[union-attr]
        await hub.stop()
        return traces

    assert [t["result"] for t in run_virtual(main, START)] == ["interrupted"]


HELD = """
- id: shed_load
  alias: Shed load
  trigger:
    - platform: state
      entity_id: meter.grid
      to: "high"
      for: {minutes: 10}
  action:
    - service: test.call
      data: {n: "held {{ trigger.to_state.state }}"}
"""


async def high_for_four_minutes(config_dir: Path, clock: VirtualClock, calls: Calls) -> Hub:
    """A hub whose meter went high 4 minutes ago (the trigger's 10 minutes are pending)."""
    hub = await start(config_dir, clock, calls)
    hub.states.set("meter.grid", "high")
    await clock.sleep(240)
    return hub


def test_a_for_timer_completes_at_its_original_deadline_after_a_restart(tmp_path: Path) -> None:
    write_config(tmp_path, HELD)
    calls: Calls = []

    async def first(clock: VirtualClock) -> None:
        await (await high_for_four_minutes(tmp_path, clock, calls)).stop()

    async def second(clock: VirtualClock, value: str) -> None:
        hub = await start(tmp_path, clock, calls)
        await clock.sleep(5)
        hub.states.set("meter.grid", value)  # the integration's first reading after the restart
        await clock.sleep(1200)
        await hub.stop()

    run_virtual(first, START)
    assert calls == []
    run_virtual(lambda clock: second(clock, "high"), START + timedelta(minutes=7))
    assert calls == [("held high", START + timedelta(minutes=10))]

    calls.clear()
    run_virtual(first, START)
    run_virtual(lambda clock: second(clock, "low"), START + timedelta(minutes=7))  # it changed while down
    assert calls == []


def test_a_for_timer_completes_at_its_original_deadline_across_a_reload(tmp_path: Path) -> None:
    write_config(tmp_path, HELD)
    calls: Calls = []

    async def main(clock: VirtualClock) -> None:
        hub = await high_for_four_minutes(tmp_path, clock, calls)
        await hub.services.call("automation", "reload")
        await clock.sleep(1200)
        await hub.stop()

    run_virtual(main, START)
    assert calls == [("held high", START + timedelta(minutes=10))]
