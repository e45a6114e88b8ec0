"""`template` trigger: fires when `value_template` turns from false to true (optionally held `for:`).

The template is followed as Home Assistant follows it (`orbiteos.automation.template_tracking`):
re-rendered when what it read changes (rate-limited for whole domains and all states) and every
minute when it uses `now()`; only a changed result counts. True at attach time does not fire: it must
first turn false. Any changed result cancels a pending `for:`: a truthy result that changes to
another truthy one (3 -> 4) cancels it and does not start it again, as in Home Assistant.
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol

from orbiteos.automation import fields
from orbiteos.automation.template_tracking import TemplateTracker
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.core import Context, Event, Hub, State, Unsubscribe
from orbiteos.errors import TemplateError
from orbiteos.template import Template, result_as_boolean

_LOGGER = logging.getLogger(__name__)

TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["template"]),
        vol.Required("value_template"): fields.template,
        vol.Optional("for"): fields.period_or_template,
    }
)


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    template = Template(config["value_template"], hub)
    template.ensure_valid()
    for_config = config.get("for")
    name = trigger_info["name"]
    variables = trigger_info["variables"]
    trigger_data = trigger_info["trigger_data"]
    pending: Unsubscribe | None = None
    armed = False

    def fire(entity_id: str | None, old: State | None, new: State | None, held: Any, context: Context) -> None:
        description = f"{entity_id} via template" if entity_id is not None else \
            "time change or manual update via template"
        action(
            {"trigger": {**trigger_data, "platform": "template", "entity_id": entity_id, "from_state": old,
                         "to_state": new, "for": held, "description": description}},
            context,
        )

    def cancel_pending() -> None:
        nonlocal pending
        if pending is not None:
            pending()
            pending = None

    def changed(event: Event | None, result: Any) -> None:
        nonlocal armed, pending
        if isinstance(result, TemplateError):
            _LOGGER.warning("%s: template trigger failed: %s", name, result)
            return
        cancel_pending()
        if not result_as_boolean(result):
            armed = True
            return
        if not armed:
            return
        armed = False
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
        timer = hub.clock.call_later(period.total_seconds(), held, entity_id, old, new, period, context)
        pending = timer.cancel

    def held(entity_id: str | None, old: State | None, new: State | None, period: Any, context: Context) -> None:
        nonlocal pending
        pending = None
        fire(entity_id, old, new, period, context)

    tracker = TemplateTracker(hub, template, variables, changed)
    first = tracker.start()
    if isinstance(first, TemplateError):
        _LOGGER.warning("%s: template trigger failed at set-up: %s", name, first)
    else:
        armed = not result_as_boolean(first)  # armed only by a false start

    def detach() -> None:
        tracker.stop()
        cancel_pending()

    return detach
