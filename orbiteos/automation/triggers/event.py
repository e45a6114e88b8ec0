"""`event` trigger: an event of one of `event_type`, whose data contains `event_data` (and `context`).

`event_type`, `event_data` and `context` may hold templates: rendered once, when the trigger attaches,
with the trigger variables (as Home Assistant renders them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.trace import TraceView
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.core import Event, Hub, Unsubscribe
from orbiteos.template import render_complex

TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["event"]),
        vol.Required("event_type"): vol.All(cv.ensure_list, [vol.All(cv.string, fields.template)]),
        vol.Optional("event_data"): vol.All(dict, fields.template_complex),
        vol.Optional("context"): {vol.Optional("user_id"): vol.All(cv.ensure_list, [fields.template]),
                                  vol.Optional("parent_id"): vol.All(cv.ensure_list, [fields.template]),
                                  vol.Optional("context_id"): vol.All(cv.ensure_list, [fields.template])},
    }
)


def contains(data: Any, wanted: Any) -> bool:
    """True when `data` holds every key of `wanted` with an equal value (nested mappings recurse)."""
    if isinstance(wanted, Mapping):
        if not isinstance(data, Mapping):
            return False
        return all(key in data and contains(data[key], value) for key, value in wanted.items())
    # Plain equality, as Home Assistant's schema: 1 matches 1.0 but not "1".
    return bool(data == wanted)


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    variables = trigger_info["variables"]
    event_types = [str(name) for name in render_complex(config["event_type"], variables, hub)]
    event_data = render_complex(config.get("event_data") or {}, variables, hub)
    context_match = {key: [str(item) for item in items]
                     for key, items in render_complex(config.get("context") or {}, variables, hub).items()}
    trigger_data = trigger_info["trigger_data"]

    def matches_context(event: Event) -> bool:
        checks = (("user_id", event.context.user_id), ("parent_id", event.context.parent_id),
                  ("context_id", event.context.id))
        return all(key not in context_match or value in context_match[key] for key, value in checks)

    def handle(event: Event) -> None:
        if event_data and not contains(event.data, event_data):
            return
        if context_match and not matches_context(event):
            return
        if any(type(value) is TraceView for value in event.data.values()):
            # `automation_run_finished`: the run sees the trace as the plain dict it stands for
            # (built here, for a run that starts, not for every event the filters turn away).
            event = replace(event, data={
                key: value.as_dict() if type(value) is TraceView else value for key, value in event.data.items()
            })
        action(
            {"trigger": {**trigger_data, "platform": "event", "event": event,
                         "description": f"event '{event.event_type}'"}},
            event.context,
        )

    unsubscribes = [hub.bus.listen(event_type, handle) for event_type in event_types]

    def detach() -> None:
        for unsubscribe in unsubscribes:
            unsubscribe()

    return detach
