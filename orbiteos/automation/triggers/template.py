"""`template` trigger: fires when `value_template` turns from false to true (optionally held `for:`).

The template is re-rendered when an entity it read changes (what it reads is tracked at each
render), and every minute when it uses `now()`. True at attach time does not fire: it must first
turn false, as Home Assistant.
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol

from orbiteos.automation import fields
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.automation.triggers.schedule import track_moments
from orbiteos.automation.triggers.time_pattern import next_matching
from orbiteos.core import EVENT_STATE_CHANGED, Context, Event, Hub, State, Unsubscribe
from orbiteos.errors import TemplateError
from orbiteos.template import RenderInfo, Template, result_as_boolean

_LOGGER = logging.getLogger(__name__)

TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["template"]),
        vol.Required("value_template"): fields.template,
        vol.Optional("for"): fields.period_or_template,
    }
)

_MINUTES = list(range(60))


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    template = Template(config["value_template"], hub)
    template.ensure_valid()
    for_config = config.get("for")
    name = trigger_info["name"]
    variables = trigger_info["variables"]
    trigger_data = trigger_info["trigger_data"]
    watching: list[Unsubscribe] = []
    watched_key: tuple[Any, ...] | None = None
    pending: Unsubscribe | None = None
    clock_tick: Unsubscribe | None = None
    last_true: bool | None = None

    def render() -> tuple[bool | None, RenderInfo]:
        value, info = template.render_tracked(variables)
        if isinstance(value, TemplateError):
            _LOGGER.error("%s: template trigger failed: %s", name, value)
            return None, info
        return result_as_boolean(value), info

    def fire(entity_id: str | None, old: State | None, new: State | None, held: Any, context: Context) -> None:
        action(
            {"trigger": {**trigger_data, "platform": "template", "entity_id": entity_id, "from_state": old,
                         "to_state": new, "for": held, "description": "template"}},
            context,
        )

    def cancel_pending() -> None:
        nonlocal pending
        if pending is not None:
            pending()
            pending = None

    def evaluate(event: Event | None) -> None:
        nonlocal last_true, pending
        result, info = render()
        watch(info)
        if result is None:
            return
        was_true, last_true = last_true, result
        if not result:
            cancel_pending()
            return
        if was_true is not False:
            return
        entity_id = event.data.get("entity_id") if event is not None else None
        old = event.data.get("old_state") if event is not None else None
        new = event.data.get("new_state") if event is not None else None
        context = event.context if event is not None else Context()
        if for_config is None:
            fire(entity_id, old, new, None, context)
            return
        scope = {**variables, "trigger": {"platform": "template", "entity_id": entity_id,
                                          "from_state": old, "to_state": new}}
        try:
            period = fields.render_period(for_config, scope, hub)
        except TemplateError as err:
            _LOGGER.error("%s: template trigger 'for' failed: %s", name, err)
            return
        cancel_pending()
        timer = hub.clock.call_later(period.total_seconds(), held, entity_id, old, new, period, context)
        pending = timer.cancel

    def held(entity_id: str | None, old: State | None, new: State | None, period: Any, context: Context) -> None:
        nonlocal pending
        pending = None
        fire(entity_id, old, new, period, context)

    def watch(info: RenderInfo) -> None:
        nonlocal watched_key, clock_tick
        key = (frozenset(info.entities), frozenset(info.domains), info.all_states)
        if key != watched_key:
            watched_key = key
            for unsubscribe in watching:
                unsubscribe()
            watching.clear()
            if info.all_states or info.domains:
                domains = info.domains

                def any_change(event: Event) -> None:
                    if info.all_states or event.data["entity_id"].partition(".")[0] in domains:
                        evaluate(event)

                watching.append(hub.bus.listen(EVENT_STATE_CHANGED, any_change))
            if info.entities:
                watching.append(hub.states.listen(info.entities, evaluate))
        if info.uses_time and clock_tick is None:
            clock_tick = track_moments(
                hub, lambda after: next_matching(after.astimezone(hub.config.tzinfo), list(range(24)), _MINUTES, [0]),
                lambda moment: evaluate(None),
            )

    first, info = render()
    last_true = first
    watch(info)

    def detach() -> None:
        for unsubscribe in watching:
            unsubscribe()
        watching.clear()
        cancel_pending()
        if clock_tick is not None:
            clock_tick()

    return detach

