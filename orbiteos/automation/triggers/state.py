"""`state` trigger: an entity's state (or one attribute) changes, optionally held `for:` a period."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.automation.triggers.hold import resume_pending, track_same_state
from orbiteos.core import Context, Event, Hub, State, Unsubscribe
from orbiteos.errors import TemplateError

_LOGGER = logging.getLogger(__name__)

_MATCH_KEYS = ("from", "to", "not_from", "not_to")


def _state_schema(value: Any) -> Any:
    # Without `attribute`, from/to are state strings; with it, raw attribute values of any type.
    match = (lambda v: v) if isinstance(value, dict) and "attribute" in value else fields.state_values
    return vol.Schema(
        {
            **TRIGGER_BASE,
            vol.Required("platform"): vol.In(["state"]),
            vol.Required("entity_id"): cv.entity_ids,
            vol.Optional("from"): match,
            vol.Optional("to"): match,
            vol.Optional("not_from"): match,
            vol.Optional("not_to"): match,
            vol.Optional("attribute"): vol.Coerce(str),
            vol.Optional("for"): fields.period_or_template,
        }
    )(value)


def _no_from_and_not_from(value: dict[str, Any]) -> dict[str, Any]:
    for key in ("from", "to"):
        if key in value and f"not_{key}" in value:
            raise vol.Invalid(f"'{key}' and 'not_{key}' cannot be used together")
    return value


TRIGGER_SCHEMA = vol.All(_state_schema, _no_from_and_not_from)


def matcher(config: dict[str, Any], key: str) -> Callable[[Any], bool]:
    """Home Assistant's `process_state_match`: a list matches any of it; null or absent matches all."""
    inverted = config.get(f"not_{key}")
    if inverted is not None:
        excluded = inverted if isinstance(inverted, list) else [inverted]
        return lambda value: value not in excluded
    wanted = config.get(key)
    if wanted is None:
        return lambda value: True
    if isinstance(wanted, list):
        if len(wanted) == 1:
            single = wanted[0]
            return lambda value: value == single
        return lambda value: value in wanted
    return lambda value: value == wanted


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    entity_ids: list[str] = config["entity_id"]
    attribute: str | None = config.get("attribute")
    for_config = config.get("for")
    match_all = not any(key in config for key in _MATCH_KEYS)
    match_from = matcher(config, "from")
    match_to = matcher(config, "to")
    from_only = "from" in config and "to" not in config
    trigger_data = trigger_info["trigger_data"]
    variables = trigger_info["variables"]
    pending: dict[str, list[Unsubscribe]] = {}
    status = trigger_info.get("status")
    if status is not None:
        status.watching = _describe(config)

    def value_of(state: State | None) -> Any:
        if state is None:
            return None
        return state.state if attribute is None else state.attributes.get(attribute)

    def fire(entity_id: str, old: State | None, new: State | None, held: timedelta | None,
             context: Context | None) -> None:
        action(
            {
                "trigger": {
                    **trigger_data,
                    "platform": "state",
                    "entity_id": entity_id,
                    "from_state": old,
                    "to_state": new,
                    "for": held,
                    "attribute": attribute,
                    "description": f"state of {entity_id}",
                }
            },
            context,
        )

    def changed(event: Event) -> None:
        data = event.data
        entity_id: str = data["entity_id"]
        old: State | None = data["old_state"]
        new: State | None = data["new_state"]
        old_value, new_value = value_of(old), value_of(new)
        if attribute is not None and old_value == new_value:
            return
        if not match_from(old_value) or not match_to(new_value) or (not match_all and old_value == new_value):
            if status is not None:
                refusal = f"{old_value!r} -> {new_value!r} does not match"
                status.saw(entity_id, new_value, hub.clock.now(), refused=refusal)
            return
        if status is not None:
            status.saw(entity_id, new_value, hub.clock.now())
        if for_config is None:
            fire(entity_id, old, new, None, event.context)
            return
        scope = {**variables, "trigger": {"platform": "state", "entity_id": entity_id,
                                          "from_state": old, "to_state": new}}
        try:
            period = fields.render_period(for_config, scope, hub)
        except TemplateError as err:
            _LOGGER.error("%s: state trigger 'for' failed: %s", trigger_info["name"], err)
            return

        if old is None and pending.get(entity_id):
            return  # the entity's first state after a restart: the resumed timer judges it (hold.py)
        start_timer(entity_id, old, new, old_value, new_value, period, period, event.context)

    def start_timer(entity_id: str, old: State | None, new: State | None, old_value: Any, new_value: Any,
                    period: timedelta, remaining: timedelta, context: Context | None) -> None:
        """Fire after `remaining` unless the state stops holding first (`period` is what `for` said)."""

        def still_same(state: State | None) -> bool:
            if state is None:
                return False
            current = value_of(state)
            return current != old_value if from_only else current == new_value

        # As Home Assistant: a timer already running for this entity keeps running while its own
        # check holds (with no from/to, an attribute change starts a second timer beside it).
        timers = pending.setdefault(entity_id, [])

        def held() -> None:
            timers.remove(cancel)
            if status is not None and not timers:
                status.pending(entity_id, None)
            fire(entity_id, old, new, period, context)

        def still_same_or_forget(state: State | None) -> bool:
            if still_same(state):
                return True
            if cancel in timers:
                timers.remove(cancel)
            if status is not None and not timers:
                status.pending(entity_id, None)
                refusal = f"changed before 'for' ({period}) passed"
                status.saw(entity_id, value_of(state), hub.clock.now(), refused=refusal)
            return False

        cancel = track_same_state(hub, entity_id, remaining, held, still_same_or_forget)
        timers.append(cancel)
        if status is not None:
            status.pending(entity_id, hub.clock.now() + remaining, period)

    unsubscribe = hub.states.listen(entity_ids, changed)
    if status is not None and for_config is not None and not from_only:
        def resume(entity_id: str, state: State, period: timedelta, remaining: timedelta) -> None:
            start_timer(entity_id, None, state, None, value_of(state), period, remaining, None)

        resume_pending(hub, status, value_of, match_to, resume, pending)

    def detach() -> None:
        unsubscribe()
        for timers in pending.values():
            for cancel in list(timers):
                cancel()
        pending.clear()

    return detach


def _describe(config: dict[str, Any]) -> str:
    """What the trigger waits for, in words: `ev_charger.bay1 (attribute status) to Charging for 0:00:10`."""
    text = ", ".join(config["entity_id"])
    if config.get("attribute"):
        text += f" (attribute {config['attribute']})"
    for key in _MATCH_KEYS:
        if key in config:
            text += f" {key} {config[key]}"
    if config.get("for") is not None:
        text += f" for {config['for']}"
    return text
