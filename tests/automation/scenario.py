"""A small harness for automation scenario tests: YAML in, state writes, virtual time, service calls out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orbiteos.automation import async_setup, get_manager, validate_config
from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import parse_yaml
from orbiteos.core import Context, Hub, ServiceCall, SiteConfig

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
RECORDED_SERVICES = ("test.call", "test.other", "battery.set_power", "ev_charger.set_limit", "pv.set_limit")


@dataclass
class Call:
    offset: float
    service: str
    data: dict[str, Any]
    context: Context


class Scenario:
    def __init__(self, hub: Hub, clock: VirtualClock) -> None:
        self.hub = hub
        self.clock = clock
        self.calls: list[Call] = []
        self.events: list[Any] = []

    @property
    def offset(self) -> float:
        return (self.hub.clock.now() - self.clock.start).total_seconds()

    def record(self, call: ServiceCall) -> None:
        self.calls.append(Call(self.offset, f"{call.domain}.{call.service}", dict(call.data), call.context))

    def set(self, entity_id: str, state: Any, attributes: dict[str, Any] | None = None) -> None:
        self.hub.states.set(entity_id, state, attributes)

    async def idle(self) -> None:
        await self.hub.wait_idle()

    async def advance(self, seconds: float) -> None:
        await self.hub.wait_idle()
        await asyncio.sleep(seconds)
        await self.hub.wait_idle()

    def called(self) -> list[tuple[float, str, dict[str, Any]]]:
        return [(round(c.offset, 3), c.service, c.data) for c in self.calls]

    def services(self) -> list[str]:
        return [c.service for c in self.calls]

    def traces(self, automation_id: str) -> list[dict[str, Any]]:
        automation = get_manager(self.hub).get(automation_id)
        assert automation is not None, automation_id
        return automation.traces()


def load(yaml_text: str) -> list[dict[str, Any]]:
    validated, errors = validate_config(parse_yaml(yaml_text, "automations.yaml"))
    assert not errors, [str(e) for e in errors]
    return validated


def run_scenario(
    yaml_text: str,
    body: Callable[[Scenario], Awaitable[None]],
    *,
    start: datetime = START,
    time_zone: str = "UTC",
    initial: dict[str, Any] | None = None,
    hub_start: bool = True,
) -> Scenario:
    """Set up the automations under a virtual clock, run `body`, stop the hub; returns the scenario."""
    automations = load(yaml_text)

    async def main(clock: VirtualClock) -> Scenario:
        hub = Hub(clock, SiteConfig(time_zone=time_zone))
        scenario = Scenario(hub, clock)
        for name in RECORDED_SERVICES:
            domain, service = name.split(".")
            hub.services.register(domain, service, scenario.record)
        hub.bus.listen("*", scenario.events.append)
        for entity_id, state in (initial or {}).items():
            hub.states.set(entity_id, state)
        async with asyncio.timeout(3600 * 24 * 30):
            await async_setup(hub, automations)
            if hub_start:
                await hub.start()
            await hub.wait_idle()
            try:
                await body(scenario)
                await hub.wait_idle()
            finally:
                await hub.stop()
        return scenario

    return run_virtual(main, start)
