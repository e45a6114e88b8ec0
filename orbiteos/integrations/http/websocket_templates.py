"""The websocket's `render_template`, as Home Assistant's: a result, then an event per new rendering.

    client: {"id": 5, "type": "render_template", "template": "{{ states('meter.grid') }}"}
    server: {"id": 5, "type": "result", "success": true, "result": null}
    server: {"id": 5, "type": "event", "event": {"result": 12.5, "listeners": {"all": false,
             "domains": [], "entities": ["meter.grid"], "time": false}}}

The template is followed (`TemplateTracker`) until `unsubscribe_events` with its id; results are
native types, as Home Assistant's. A template that fails on its first render is an error result
(`template_error`) when `report_errors` is set, and an event `{"error": ..., "level": "ERROR"}`
when it fails later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from orbiteos.automation.template_tracking import TemplateTracker
from orbiteos.core import Event
from orbiteos.errors import TemplateError
from orbiteos.template import RenderInfo, Template

if TYPE_CHECKING:
    from orbiteos.integrations.http.websocket_api import Connection

RENDER_TEMPLATE = vol.Schema(
    {
        vol.Required("template"): str,
        vol.Optional("entity_ids"): vol.Any(str, [str]),
        vol.Optional("variables", default=dict): dict,
        vol.Optional("timeout"): vol.Coerce(float),
        vol.Optional("strict", default=False): bool,
        vol.Optional("report_errors", default=False): bool,
    },
    extra=vol.ALLOW_EXTRA,
)


def listeners(info: RenderInfo) -> dict[str, Any]:
    """Home Assistant's `RenderInfo.listeners` shape."""
    return {
        "all": info.all_states or info.all_states_lifecycle,
        "domains": sorted(info.domains | info.domains_lifecycle),
        "entities": sorted(info.entities),
        "time": info.uses_time,
    }


async def cmd_render_template(conn: Connection, msg: dict[str, Any]) -> None:
    msg_id = msg["id"]
    conn.room_for_a_subscription()
    template = Template(msg["template"], conn.hub)
    template.ensure_valid()  # a syntax error is the command's error (TemplateError)
    tracker: TemplateTracker | None = None

    def send_result(result: Any) -> None:
        if tracker is None:
            return
        if isinstance(result, TemplateError):
            conn.send({"id": msg_id, "type": "event", "event": {"error": str(result), "level": "ERROR"}})
            return
        conn.send({"id": msg_id, "type": "event", "event": {"result": result, "listeners": listeners(tracker.info)}})

    def on_change(event: Event | None, result: Any) -> None:
        send_result(result)

    tracker = TemplateTracker(conn.hub, template, msg["variables"], on_change)
    first = tracker.start()
    if isinstance(first, TemplateError) and msg["report_errors"]:
        tracker.stop()
        raise first
    conn.subscribe(msg_id, tracker.stop)
    conn.result(msg_id)
    send_result(first)
