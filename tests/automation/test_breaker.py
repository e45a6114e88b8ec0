"""The breaker: a runaway automation is turned off (logged, audited, visible), memory stays bounded."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from orbiteos.automation import async_setup, get_manager
from orbiteos.automation.breaker import BREAKER_USER, EVENT_BREAKER_TRIPPED
from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.core import Event, Hub, ServiceCall, SiteConfig
from orbiteos.limits import Limits
from tests.automation.scenario import START, load

REPO = Path(__file__).resolve().parents[2]

SELF_TRIGGERING = """
- id: runaway
  alias: runaway
  mode: {mode}
  max: 1000
  triggers:
    - trigger: event
      event_type: again
  actions:
    - action: test.call
    - event: again
    - event: again
"""


class Site:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.calls: list[ServiceCall] = []
        self.events: list[Event] = []


def run(yaml_text: str, limits: Limits, body: Any) -> Site:
    async def main(clock: VirtualClock) -> Site:
        hub = Hub(clock, SiteConfig(limits=limits))
        site = Site(hub)
        hub.services.register("test", "call", site.calls.append)
        hub.bus.listen("*", lambda event: site.events.append(event) if event.event_type != "again" else None)
        async with asyncio.timeout(3600):
            await async_setup(hub, load(yaml_text))
            await hub.start()
            try:
                await body(site)
                await hub.wait_idle()
            finally:
                await hub.stop()
        return site

    return run_virtual(main, START)


async def kick(site: Site) -> None:
    site.hub.bus.fire("again", {})
    await asyncio.sleep(1)
    await site.hub.wait_idle()


def tripped(site: Site) -> list[Event]:
    return [e for e in site.events if e.event_type == EVENT_BREAKER_TRIPPED]


@pytest.mark.parametrize("mode", ["parallel", "single", "queued", "restart"])
def test_a_self_triggering_automation_is_turned_off_with_a_reason(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    limits = Limits(automation_max_triggers=300)
    with caplog.at_level(logging.ERROR, "orbiteos.automation"):
        site = run(SELF_TRIGGERING.format(mode=mode), limits, kick)
    state = site.hub.states.get("automation.runaway")
    assert state is not None
    assert state.state == "off"
    reason = state.attributes["off_reason"]
    assert reason.startswith("triggered 301 times within 10 s, more than 300 (limits.automation_max_triggers)")
    assert [e.data["automation_id"] for e in tripped(site)] == ["runaway"]
    assert tripped(site)[0].data["reason"] == reason
    assert f"runaway: turned off by the breaker: {reason}" in caplog.text
    # The turn-off went through the service, as the breaker: what the recorder's audit_log stores.
    turn_offs = [e for e in site.events if e.event_type == "call_service" and e.data["service"] == "turn_off"]
    assert [(e.data["domain"], e.context.user_id) for e in turn_offs] == [("automation", BREAKER_USER)]
    assert len(site.calls) <= 301
    assert get_manager(site.hub).get("runaway").current == 0  # type: ignore[union-attr]


def test_turning_it_on_again_clears_the_reason() -> None:
    async def body(site: Site) -> None:
        await kick(site)
        await site.hub.services.call("automation", "turn_on", {"entity_id": "automation.runaway"})

    site = run(SELF_TRIGGERING.format(mode="single"), Limits(automation_max_triggers=50), body)
    state = site.hub.states.get("automation.runaway")
    assert state is not None
    assert "off_reason" not in state.attributes


CYCLE = """
- id: a
  alias: a
  triggers: [{trigger: event, event_type: to_a}]
  actions: [{event: to_b}]
- id: b
  alias: b
  triggers: [{trigger: event, event_type: to_b}]
  actions: [{event: to_c}]
- id: c
  alias: c
  triggers: [{trigger: event, event_type: to_c}]
  actions: [{action: test.call}, {event: to_a}]
"""


def test_an_event_storm_across_automations_turns_the_busiest_off() -> None:
    async def body(site: Site) -> None:
        site.hub.bus.fire("to_a", {})
        await asyncio.sleep(1)

    site = run(CYCLE, Limits(automation_max_triggers=1000, automation_storm_triggers=300), body)
    off = [e.data for e in tripped(site)]
    assert len(off) == 1
    assert off[0]["reason"].startswith("event storm: automations triggered 301 times within 10 s, more than 300")
    states = {a: site.hub.states.get(f"automation.{a}").state for a in "abc"}  # type: ignore[union-attr]
    assert sorted(states.values()) == ["off", "on", "on"]


def test_a_busy_automation_within_its_rate_keeps_running() -> None:
    yaml_text = """
- id: busy
  alias: busy
  triggers: [{trigger: event, event_type: tick}]
  actions: [{action: test.call}]
"""

    async def body(site: Site) -> None:
        for _ in range(200):  # 20 triggers a second for 10 s: under 300 per 10 s
            site.hub.bus.fire("tick", {})
            await asyncio.sleep(0.05)

    site = run(yaml_text, Limits(automation_max_triggers=300), body)
    assert len(site.calls) == 200
    assert not tripped(site)
    assert site.hub.states.get("automation.busy").state == "on"  # type: ignore[union-attr]


def test_runs_that_pile_up_are_bounded_in_every_mode() -> None:
    yaml_text = """
- id: slow
  alias: slow
  mode: parallel
  max: 20
  triggers: [{trigger: event, event_type: go}]
  actions: [{delay: 60}, {action: test.call}]
"""
    seen: list[int] = []

    async def body(site: Site) -> None:
        automation = get_manager(site.hub).get("slow")
        assert automation is not None
        for _ in range(250):
            site.hub.bus.fire("go", {})
        seen.append(automation._started)
        await asyncio.sleep(120)

    site = run(yaml_text, Limits(automation_max_triggers=1000, automation_max_pending=30), body)
    assert seen == [50]  # max 20 plus 30 pending; the other 200 triggers were dropped before a task was made
    assert len(site.calls) == 20


def rss_of(pid: int) -> int:
    """Resident memory of a process, kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


async def test_run_survives_a_runaway_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "orbiteos:\n  name: Runaway\nlogger:\n  default: warning\n  logs:\n    orbiteos.cli: info\n"
        "automation:"
        + SELF_TRIGGERING.format(mode="parallel")
        .replace("    - action: test.call\n", "")
        .replace("  actions:", "    - trigger: homeassistant\n      event: start\n  actions:")
        .replace("\n", "\n  ")
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orbiteos.cli",
        "run",
        "-c",
        str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(45):
            while b"turned off by the breaker" not in (line := await process.stderr.readline()):
                assert line, "orbiteos run exited"
            rss_kb = rss_of(process.pid)
            process.terminate()
        async with asyncio.timeout(15):  # SIGTERM stops it within seconds
            rest = (await process.stderr.read()).decode()
            returncode = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert returncode == 0, rest
    assert rss_kb < 400_000
    assert "Traceback" not in rest
