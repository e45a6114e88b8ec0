"""The websocket's `subscribe_entities`: states in Home Assistant's compressed form, then their diffs.

    client: {"id": 7, "type": "subscribe_entities", "entity_ids": ["meter.grid"]}   (entity_ids optional)
    server: {"id": 7, "type": "result", "success": true, "result": null}
    server: {"id": 7, "type": "event", "event": {"a": {"meter.grid": {"s": "12.5", "a": {...},
             "c": "<context id>", "lc": 1717200000.0}}}}
    server: {"id": 7, "type": "event", "event": {"c": {"meter.grid": {"+": {"s": "13.0", "lc": ...}}}}}
    server: {"id": 7, "type": "event", "event": {"r": ["meter.grid"]}}                (removed)

`a` adds whole states, `c` changes (`+` what is new, `-` the attribute names that went), `r`
removes; `lu` is given only when it differs from `lc`. The keys and rules are Home Assistant's
(`homeassistant/core.py` `as_compressed_state`, `websocket_api/messages.py` `_state_diff`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from orbiteos.core import EVENT_STATE_CHANGED, Context, Event, State
from orbiteos.integrations.http.errors import dumps
from orbiteos.integrations.http.redact import redact_text, sees_secrets

if TYPE_CHECKING:
    from orbiteos.integrations.http.websocket_api import Connection

SUBSCRIBE_ENTITIES = vol.Schema(
    {vol.Optional("entity_ids"): vol.All(vol.Any(str, [str]), lambda v: [v] if isinstance(v, str) else v)},
    extra=vol.ALLOW_EXTRA,
)


def _compressed_context(context: Context) -> str | dict[str, Any]:
    if context.parent_id is None and context.user_id is None:
        return context.id
    return context.as_dict()


def compressed_state(state: State) -> dict[str, Any]:
    compressed: dict[str, Any] = {
        "s": state.state,
        "a": dict(state.attributes),
        "c": _compressed_context(state.context),
        "lc": state.last_changed.timestamp(),
    }
    if state.last_updated != state.last_changed:
        compressed["lu"] = state.last_updated.timestamp()
    return compressed


def state_diff(old: State, new: State) -> dict[str, Any]:
    """What changed from `old` to `new`, as Home Assistant's `_state_diff`."""
    additions: dict[str, Any] = {}
    diff: dict[str, Any] = {"+": additions}
    if old.state != new.state:
        additions["s"] = new.state
    if old.last_changed != new.last_changed:
        additions["lc"] = new.last_changed.timestamp()
    elif old.last_updated != new.last_updated:
        additions["lu"] = new.last_updated.timestamp()
    old_context, new_context = old.context, new.context
    context: dict[str, Any] = {}
    if old_context.parent_id != new_context.parent_id:
        context["parent_id"] = new_context.parent_id
    if old_context.user_id != new_context.user_id:
        context["user_id"] = new_context.user_id
    if old_context.id != new_context.id:
        if context:
            context["id"] = new_context.id
        else:
            additions["c"] = new_context.id
    if context:
        additions["c"] = context
    if old.attributes != new.attributes:
        changed = {k: v for k, v in new.attributes.items() if old.attributes.get(k) != v}
        if changed:
            additions["a"] = changed
        removed = [k for k in old.attributes if k not in new.attributes]
        if removed:
            diff["-"] = {"a": removed}
    return diff


def entity_event(event: Event) -> dict[str, Any]:
    """The compressed form of one `state_changed` event."""
    entity_id = event.data["entity_id"]
    old, new = event.data.get("old_state"), event.data.get("new_state")
    if new is None:
        return {"r": [entity_id]}
    if old is None:
        return {"a": {entity_id: compressed_state(new)}}
    return {"c": {entity_id: state_diff(old, new)}}


async def cmd_subscribe_entities(conn: Connection, msg: dict[str, Any]) -> None:
    msg_id = msg["id"]
    entity_ids: list[str] | None = [e.lower() for e in msg["entity_ids"]] if "entity_ids" in msg else None
    conn.room_for_a_subscription()
    prefix = '{"id":' + str(msg_id) + ',"type":"event","event":'
    secrets = sees_secrets(conn.token)

    def send(payload: dict[str, Any]) -> None:
        text = dumps(payload)
        conn.send_text(prefix + (text if secrets else redact_text(text)) + "}")

    def forward(event: Event) -> None:
        send(entity_event(event))

    if entity_ids is None:
        unsubscribe = conn.hub.bus.listen(EVENT_STATE_CHANGED, forward)
        states = conn.hub.states.all()
    else:
        unsubscribe = conn.hub.states.listen(entity_ids, forward)
        states = [s for s in (conn.hub.states.get(e) for e in entity_ids) if s is not None]
    conn.subscribe(msg_id, unsubscribe)
    conn.result(msg_id)
    send({"a": {state.entity_id: compressed_state(state) for state in states}})
