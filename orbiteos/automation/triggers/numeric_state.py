"""`numeric_state` trigger: fires when a value crosses into the range, armed again by leaving it.

As Home Assistant: an entity is armed by a value outside the range (including `unavailable` and
`unknown`); a value that is not a number neither arms nor disarms. With `for:`, the value must stay
in range for the period, and `trigger.to_state` is the state that started the timer.
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.numeric import NumericError, NumericTest
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.automation.triggers.hold import track_same_state
from orbiteos.core import Event, Hub, State, Unsubscribe
from orbiteos.errors import TemplateError

_LOGGER = logging.getLogger(__name__)


def _above_below(value: dict[str, Any]) -> dict[str, Any]:
    above, below = value.get("above"), value.get("below")
    if isinstance(above, float) and isinstance(below, float) and above > below:
        raise vol.Invalid(
            f"a value can never be above {above} and below {below} at the same time; use two triggers"
        )
    return value


TRIGGER_SCHEMA = vol.All(
    vol.Schema(
        {
            **TRIGGER_BASE,
            vol.Required("platform"): vol.In(["numeric_state"]),
            vol.Required("entity_id"): cv.entity_ids,
            vol.Optional("above"): fields.number_or_entity,
            vol.Optional("below"): fields.number_or_entity,
            vol.Optional("attribute"): vol.Coerce(str),
            vol.Optional("value_template"): fields.template,
            vol.Optional("for"): fields.period_or_template,
        }
    ),
    cv.has_at_least_one_key("above", "below"),
    _above_below,
)


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    entity_ids: list[str] = config["entity_id"]
    above, below = config.get("above"), config.get("below")
    attribute = config.get("attribute")
    for_config = config.get("for")
    test = NumericTest(hub, above, below, attribute, config.get("value_template"))
    name = trigger_info["name"]
    trigger_data = trigger_info["trigger_data"]
    base_variables = trigger_info["variables"]
    uses_variables = test.value_template is not None
    armed: set[str] = set()
    pending: dict[str, Unsubscribe] = {}

    def scope(entity_id: str) -> dict[str, Any]:
        return {**base_variables, "trigger": {"platform": "numeric_state", "entity_id": entity_id,
                                              "below": below, "above": above, "attribute": attribute}}

    judging_scopes: dict[str, dict[str, Any]] = {}

    def judging_scope(entity_id: str) -> dict[str, Any]:
        # The value template's, one per entity and kept: its `state` is written into it for each
        # judgement (templates cannot change it: the sandbox is immutable). Nothing else sees it.
        variables = judging_scopes.get(entity_id)
        if variables is None:
            variables = judging_scopes[entity_id] = scope(entity_id)
        return variables

    for entity_id in entity_ids:
        try:
            initial = hub.states.get(entity_id)
            if not test.matches(initial, judging_scope(entity_id) if uses_variables else None, own_scope=True):
                armed.add(entity_id)
        except NumericError as err:
            _LOGGER.debug("%s: numeric_state trigger not armed for %s: %s", name, entity_id, err)

    def fire(entity_id: str, old: State | None, new: State, held: Any) -> None:
        action(
            {
                "trigger": {
                    **trigger_data,
                    "platform": "numeric_state",
                    "entity_id": entity_id,
                    "below": below,
                    "above": above,
                    "attribute": attribute,
                    "from_state": old,
                    "to_state": new,
                    "for": held,
                    "description": f"numeric state of {entity_id}",
                }
            },
            new.context,
        )

    def changed(event: Event) -> None:
        data = event.data
        entity_id: str = data["entity_id"]
        new: State | None = data["new_state"]
        try:
            matching = test.matches(new, judging_scope(entity_id) if uses_variables else None, own_scope=True)
        except NumericError as err:
            _LOGGER.debug("%s: numeric_state trigger cannot judge %s: %s", name, entity_id, err)
            return
        if not matching:
            armed.add(entity_id)
            return
        if entity_id not in armed:
            return
        armed.discard(entity_id)
        old: State | None = data["old_state"]
        if for_config is None:
            fire(entity_id, old, new, None)  # type: ignore[arg-type]
            return
        try:
            period = fields.render_period(for_config, scope(entity_id), hub)
        except TemplateError as err:
            _LOGGER.error("%s: numeric_state trigger 'for' failed: %s", name, err)
            return

        def still_matching(state: State | None) -> bool:
            try:
                return test.matches(state, judging_scope(entity_id) if uses_variables else None, own_scope=True)
            except NumericError:
                return False

        def held() -> None:
            pending.pop(entity_id, None)
            fire(entity_id, old, new, period)  # type: ignore[arg-type]

        previous = pending.pop(entity_id, None)
        if previous is not None:
            previous()
        pending[entity_id] = track_same_state(hub, entity_id, period, held, still_matching)

    unsubscribe = hub.states.listen(entity_ids, changed)

    def detach() -> None:
        unsubscribe()
        for cancel in pending.values():
            cancel()
        pending.clear()

    return detach
