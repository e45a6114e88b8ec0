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


# `trigger.description`, as each platform's own project words it.
_NAMES = {"homeassistant": "Home Assistant", "orbiteos": "OrbitEOS"}


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    which = config["event"]
    description = f"{_NAMES[config['platform']]} {'starting' if which == 'start' else 'stopping'}"
    trigger = {**trigger_info["trigger_data"], "platform": config["platform"], "event": which,
               "description": description}

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
