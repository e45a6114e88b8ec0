"""`homeassistant` / `orbiteos` trigger: `event: start` when the hub starts, `shutdown` as it stops.

A start trigger attached while the hub is already running (a reload) does not fire, as in Home
Assistant. Shutdown automations run before the hub cancels its tasks.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.core import EVENT_START, Context, Event, Hub, Unsubscribe

TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["homeassistant", "orbiteos"]),
        vol.Required("event"): vol.In(["start", "shutdown"]),
    }
)


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    which = config["event"]
    trigger = {**trigger_info["trigger_data"], "platform": config["platform"], "event": which,
               "description": f"OrbitEOS {'starting' if which == 'start' else 'stopping'}"}

    if which == "start":
        if hub.running:
            return lambda: None

        def started(event: Event) -> None:
            action({"trigger": dict(trigger)}, event.context)

        return hub.bus.listen_once(EVENT_START, started)

    async def stopping() -> None:
        action({"trigger": dict(trigger)}, Context())
        await hub.wait_idle()

    return hub.on_stop(stopping)
