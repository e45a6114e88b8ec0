"""The fail-safe, keep-alive and ownership rules on the in-process simulator, under virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import voluptuous as vol

from orbiteos.automation import async_setup as automation_setup
from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.core import Context, Event, Hub, SiteConfig
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations import sim
from orbiteos.natures import nature_layer
from orbiteos.natures.alerts import ALERTS_ENTITY
from orbiteos.natures.setpoints import SetpointRefused
from orbiteos.natures.settings import FailsafeSettings
from tests.automation.scenario import load

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
SITE: dict[str, Any] = {
    "step": 1.0,
    "pv": [{"name": "roof", "peak_power_kw": 10}],
    "battery": [{"name": "main", "capacity_kwh": 20, "max_charge_kw": 5, "max_discharge_kw": 5, "initial_soc": 50}],
    "ev_charger": [{"name": "depot", "max_power_kw": 22, "preparing_s": 0,
                    "sessions": [{"arrival": "11:00", "departure": "18:00", "capacity_kwh": 200}]}],
}


class Site:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.events: list[Event] = []
        hub.bus.listen("failsafe", self.events.append)
        hub.bus.listen("setpoint_conflict", self.events.append)
        self.calls: list[Event] = []
        hub.bus.listen("call_service", self.calls.append)

    @property
    def site(self) -> Any:
        return self.hub.data["sim"]

    def attr(self, entity_id: str, name: str) -> Any:
        return self.hub.states.get(entity_id).attributes.get(name)

    async def advance(self, seconds: float) -> None:
        await self.hub.wait_idle()
        await asyncio.sleep(seconds)
        await self.hub.wait_idle()

    def alerts(self) -> list[dict[str, Any]]:
        state = self.hub.states.get(ALERTS_ENTITY)
        return list(state.attributes["alerts"]) if state else []


def run_site(body: Callable[[Site], Awaitable[None]], failsafe: dict[str, Any] | None = None,
             automations: str | None = None) -> Site:
    async def main(clock: VirtualClock) -> Site:
        hub = Hub(clock, SiteConfig(latitude=0.0, longitude=0.0))
        nature_layer(hub).configure(FailsafeSettings.from_config(failsafe or {}))
        site = Site(hub)
        await sim.async_setup(hub, SITE)
        if automations:
            await automation_setup(hub, load(automations))
        await hub.start()
        try:
            await body(site)
        finally:
            await hub.stop()
        return site

    return run_virtual(main, START)


def test_a_lost_meter_puts_every_device_in_its_safe_state_until_it_is_fresh_again() -> None:
    async def body(s: Site) -> None:
        hub = s.hub
        await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": -5})
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot", "power_kw": 22})
        await s.advance(5)
        assert s.attr("battery.main", "setpoint_kw") == -5.0
        s.site.set_fault("meter.grid", "unavailable")
        await s.advance(9)
        assert s.attr("battery.main", "mode") == "manual"  # not yet: 10 s are allowed
        await s.advance(3)
        assert s.attr("battery.main", "mode") == "auto"
        assert s.attr("ev_charger.depot", "limit_kw") == 4.14  # 6 A x 230 V x 3
        assert s.attr("battery.main", "setpoint_source") == "failsafe"
        entered = [e.data for e in s.events if e.event_type == "failsafe"]
        assert [(e["entity_id"], e["active"], e["action"]) for e in entered] == [
            ("battery.main", True, "auto"),
            ("ev_charger.depot", True, "set_limit(current_a 6)"),
            ("pv.roof", True, "unchanged (no safe state configured)"),
        ]
        assert entered[0]["reason"] == "meter.grid is unavailable"
        # The safe states went through the services, as the `failsafe` user: the audit log has them.
        assert {(c.data["domain"], c.data["service"]) for c in s.calls if c.context.user_id == "failsafe"} == {
            ("battery", "auto"), ("ev_charger", "set_limit")}
        [alert] = s.alerts()
        assert alert["kind"] == "failsafe" and "meter.grid is unavailable" in alert["message"]
        with pytest.raises(SetpointRefused, match=r"battery.main is in its fail-safe state \(meter.grid is "
                           r"unavailable\); setpoint from user:ops refused"):
            await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": -5},
                                    context=Context(user_id="ops"))
        # PV has no safe state by default: it stays steerable.
        await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "percent": 50})

        s.site.set_fault("meter.grid", None)
        await s.advance(5)
        assert s.alerts()  # fresh, but not yet for `after` seconds
        await s.advance(7)
        assert s.alerts() == []
        assert [(e.data["entity_id"], e.data["active"]) for e in s.events if e.event_type == "failsafe"][3:] == [
            ("battery.main", False), ("ev_charger.depot", False), ("pv.roof", False)]
        await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": 2})
        assert s.attr("battery.main", "setpoint_kw") == 2.0

    run_site(body)


def test_a_meter_that_stops_reporting_is_stale_even_while_its_entity_looks_fine() -> None:
    async def body(s: Site) -> None:
        s.site.set_fault("meter.grid", "stale")
        await s.advance(20)
        assert not [e for e in s.events if e.event_type == "failsafe"]
        await s.advance(12)  # 20 s stale + 10 s allowed
        [first, *_] = [e.data for e in s.events if e.event_type == "failsafe"]
        assert first["reason"].startswith("meter.grid is stale (no update for ")
        assert s.hub.states.get("meter.grid").state not in ("unavailable", "unknown")

    run_site(body, failsafe={"stale_after": 20})


def test_repeated_identical_readings_are_updates_not_staleness() -> None:
    async def body(s: Site) -> None:
        s.site.set_fault("meter.grid", "stale")
        reading = s.hub.states.get("meter.grid")
        for _ in range(40):  # a meter repeating the very same value every second
            s.hub.states.set("meter.grid", reading.state, reading.attributes)
            await s.advance(1)
        assert not [e for e in s.events if e.event_type == "failsafe"]

    run_site(body, failsafe={"stale_after": 5, "after": 2})


def test_configured_inputs_and_safe_states() -> None:
    async def body(s: Site) -> None:
        s.hub.states.set("sensor.grid_power", "12.5")
        await s.hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": 3})
        await s.advance(2)
        s.hub.states.set("sensor.grid_power", "unavailable")
        await s.advance(2)
        assert s.attr("battery.main", "setpoint_kw") == 3.0  # not yet
        await s.advance(3)
        assert s.attr("battery.main", "setpoint_kw") == 0.0
        assert s.attr("pv.roof", "limit_kw") == 5.0
        assert s.attr("ev_charger.depot", "enabled") is False  # stopped: no charging at any limit
        assert s.hub.states.get("ev_charger.depot").state == "0.0"

    run_site(body, failsafe={"inputs": ["sensor.grid_power"], "after": 3,
                             "safe_state": {"battery": {"power_kw": 0}, "pv": {"percent": 50}},
                             "devices": {"ev_charger.depot": "stop"}})


def test_setpoints_are_kept_alive_and_the_devices_fall_back_by_themselves_when_the_engine_is_down() -> None:
    async def body(s: Site) -> None:
        hub = s.hub
        await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": -4})
        await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "percent": 30})
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot", "current_a": 16})
        until = s.attr("battery.main", "setpoint_until")
        await s.advance(200)  # far past revert_after: renewed every keepalive
        assert s.attr("battery.main", "setpoint_kw") == -4.0
        assert s.attr("pv.roof", "limit_kw") == 3.0
        assert s.attr("ev_charger.depot", "limit_kw") == 11.04
        assert s.attr("battery.main", "setpoint_until") > until
        nature_layer(hub).engine_down = True
        await s.advance(40)  # renewed at most 15 s before the engine went down: 55 s < revert_after
        assert s.attr("battery.main", "setpoint_kw") == -4.0
        await s.advance(25)
        assert s.attr("battery.main", "mode") == "auto"
        assert s.attr("pv.roof", "limit_kw") == 10.0  # limit lifted (SunSpec revert)
        assert s.attr("ev_charger.depot", "limit_kw") == 4.14  # its fallback profile: the safe floor

    run_site(body)


PRIORITIES = """
- id: guard
  alias: guard
  priority: 5
  triggers: [{trigger: event, event_type: guard}]
  actions: [{action: battery.set_power, target: {entity_id: battery.main}, data: {power_kw: 5}}]
- id: guard_done
  alias: guard_done
  priority: 5
  triggers: [{trigger: event, event_type: guard_done}]
  actions: [{action: battery.auto, target: {entity_id: battery.main}}]
- id: long_guard
  alias: long_guard
  priority: 5
  triggers: [{trigger: event, event_type: long_guard}]
  actions:
    - action: battery.set_power
      target: {entity_id: battery.main}
      data: {power_kw: 4}
    - delay: 60
- id: shaver
  alias: shaver
  triggers: [{trigger: event, event_type: shave}]
  actions: [{action: battery.set_power, target: {entity_id: battery.main}, data: {power_kw: -2}}]
- id: other_shaver
  alias: other_shaver
  triggers: [{trigger: event, event_type: shave_too}]
  actions: [{action: battery.set_power, target: {entity_id: battery.main}, data: {power_kw: -1}}]
"""


def test_a_lower_priority_source_cannot_override_a_live_higher_priority_setpoint() -> None:
    async def body(s: Site) -> None:
        hub = s.hub
        hub.bus.fire("guard")
        await s.advance(1)
        assert s.attr("battery.main", "setpoint_kw") == 5.0
        assert s.attr("battery.main", "setpoint_source") == "automation.guard"
        hub.bus.fire("shave")
        await s.advance(1)
        assert s.attr("battery.main", "setpoint_kw") == 5.0  # refused
        assert [e for e in s.events if e.event_type == "setpoint_conflict"] == []  # a refusal is no conflict
        hub.bus.fire("guard_done")  # the owner releases it
        await s.advance(1)
        hub.bus.fire("shave")
        await s.advance(1)
        assert s.attr("battery.main", "setpoint_kw") == -2.0
        hub.bus.fire("guard")
        await s.advance(12)  # the guard's run has ended and its hold (10 s) has run out
        hub.bus.fire("shave")
        await s.advance(1)
        assert s.attr("battery.main", "setpoint_kw") == -2.0

    run_site(body, automations=PRIORITIES)


def test_a_higher_priority_claim_lasts_while_the_run_that_made_it_does() -> None:
    async def body(s: Site) -> None:
        hub = s.hub
        hub.bus.fire("long_guard")
        await s.advance(50)  # far past the 10 s hold, but the run is waiting
        with pytest.raises(SetpointRefused, match="held by automation.long_guard \\(priority 5\\) while its run lasts"):
            await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": 1},
                                    context=Context(user_id="ops"))
        await s.advance(15)  # the run ended at 60 s; its last write was 65 s ago
        await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": 1},
                                context=Context(user_id="ops"))
        assert s.attr("battery.main", "setpoint_kw") == 1.0

    run_site(body, automations=PRIORITIES)


def test_the_refusal_names_the_owner_and_its_priority() -> None:
    async def body(s: Site) -> None:
        hub = s.hub
        hub.bus.fire("guard")
        await s.advance(1)
        with pytest.raises(SetpointRefused, match=r"battery.main is held by automation.guard \(priority 5\) for "
                           r"\d+ s more unless it releases it; user:ops has priority 0"):
            await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": 1},
                                    context=Context(user_id="ops"))

    run_site(body, automations=PRIORITIES)


def test_two_sources_of_one_priority_writing_one_device_are_a_conflict_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body(s: Site) -> None:
        for _ in range(3):
            s.hub.bus.fire("shave")
            await s.advance(2)
            s.hub.bus.fire("shave_too")
            await s.advance(2)
        conflicts = [e.data for e in s.events if e.event_type == "setpoint_conflict"]
        assert [c["sources"] for c in conflicts] == [["automation.other_shaver", "automation.shaver"]]
        [alert] = s.alerts()
        assert alert["kind"] == "setpoint_conflict" and alert["entity_id"] == "battery.main"
        await s.advance(400)  # ten windows with one writer (nobody): the alert closes
        assert s.alerts() == []

    run_site(body, automations=PRIORITIES)
    assert len([r for r in caplog.records if "setpoint conflict" in r.getMessage()]) == 1


@pytest.mark.parametrize(("config", "message"), [
    ({"keepalive": 60, "revert_after": 30}, "expected revert_after (30 s) longer than keepalive (60 s)"),
    ({"safe_state": {"battery": "off"}}, "expected 'auto', 'unchanged' or {power_kw: x}, found 'off'"),
    ({"safe_state": {"pv": {"percent": 120}}}, "expected a number <= 100, found 120"),
    ({"devices": {"sensor.x": "auto"}}, "expected a battery, pv or ev_charger entity, found sensor.x"),
    ({"after": "soon"}, "after"),
])
def test_bad_failsafe_settings_say_what_was_expected(config: dict[str, Any], message: str) -> None:
    with pytest.raises(vol.Invalid) as raised:
        FailsafeSettings.from_config(config)
    assert message in str(raised.value)


def test_a_device_that_cannot_take_its_safe_state_is_retried() -> None:
    async def body(s: Site) -> None:
        s.site.not_answering.add("battery.main")
        await s.hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot", "power_kw": 22})
        s.site.set_fault("meter.grid", "unavailable")
        await s.advance(12)
        [battery_event] = [e.data for e in s.events if e.data.get("entity_id") == "battery.main"]
        assert battery_event["action"].startswith("auto failed: battery.main did not answer")
        s.site.not_answering.clear()
        await s.advance(20)  # retried every keepalive (15 s)
        assert s.attr("battery.main", "mode") == "auto"
        assert [e.data["action"] for e in s.events if e.data.get("entity_id") == "battery.main"][-1] == "auto"

    run_site(body)


def test_validation_errors_are_service_validation_errors() -> None:
    async def body(s: Site) -> None:
        with pytest.raises(ServiceValidationError, match="expected a finite number, found 'inf'"):
            await s.hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": "inf"})

    run_site(body)


def test_validating_a_validated_block_again_changes_nothing() -> None:
    from orbiteos.natures.settings import SCHEMA

    once = SCHEMA({"safe_state": {"battery": "auto", "ev_charger": {"power_kw": 4}},
                   "devices": {"pv.roof": "unchanged"}})
    assert SCHEMA(once) == once
