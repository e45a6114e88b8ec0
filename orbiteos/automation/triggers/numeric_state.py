"""`numeric_state` trigger: fires when a value crosses into the range, armed again by leaving it.

As Home Assistant: an entity is armed by a value outside the range (including `unavailable` and
`unknown`); a value that is not a number neither arms nor disarms. With `for:`, the value must stay
in range for the period, and `trigger.to_state` is the state that started the timer.

OrbitEOS only: `hysteresis: H` re-arms an entity that fired only once its value is more than H
beyond the threshold (above 80 with hysteresis 2 fires at 80.5, then again only after a value
below 78); `unavailable:` sets what an unavailable value means (see orbiteos.automation.numeric).
What each entity last showed is noted in the trigger's status, for `explain`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.numeric import NumericError, NumericTest, NumericUnavailable
from orbiteos.automation.status import TriggerStatus
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
            vol.Optional("hysteresis"): vol.All(vol.Coerce(float), vol.Range(min=0)),
            vol.Optional("unavailable", default="ignore"): fields.unavailable_policy,
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
    test = NumericTest(hub, above, below, attribute, config.get("value_template"), config["unavailable"])
    hysteresis: float = config.get("hysteresis") or 0.0
    status: TriggerStatus | None = trigger_info.get("status")
    if status is not None:
        status.watching = _describe(config)
    name = trigger_info["name"]
    trigger_data = trigger_info["trigger_data"]
    base_variables = trigger_info["variables"]
    uses_variables = test.value_template is not None
    armed: set[str] = set()
    latched: set[str] = set()  # fired, and not yet beyond the hysteresis band
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

    def note(entity_id: str, value: Any, refused: str | None = None, when: datetime | None = None) -> None:
        if status is not None:
            status.saw(entity_id, value, when or hub.clock.now(), entity_id in armed, refused)

    def judge(entity_id: str, state: State | None) -> tuple[bool | None, Any]:
        """(in range?, the value seen); None when it cannot be judged (noted and logged)."""
        if state is None:
            note(entity_id, None, "the entity does not exist")
            return None, None
        variables = judging_scope(entity_id) if uses_variables else None
        try:
            number = test.number(state, variables, own_scope=True)
        except NumericUnavailable as err:
            _LOGGER.error("%s: numeric_state trigger: %s; neither armed nor disarmed", name, err)
            note(entity_id, state.state, str(err))
            return None, state.state
        except NumericError as err:
            _LOGGER.debug("%s: numeric_state trigger cannot judge %s: %s", name, entity_id, err)
            note(entity_id, state.state, f"not a number: {err}")
            return None, state.state
        if number is None:
            return False, state.state
        try:
            return test.in_range(number), number
        except NumericError as err:
            note(entity_id, number, str(err))
            return None, number

    for entity_id in entity_ids:
        matching, value = judge(entity_id, hub.states.get(entity_id))
        if matching is False:
            armed.add(entity_id)
        if matching is not None:
            note(entity_id, value)

    def fire(entity_id: str, old: State | None, new: State, held: Any) -> None:
        if hysteresis:
            latched.add(entity_id)
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
        matching, value = judge(entity_id, new)
        if matching is None:
            return
        seen = new.last_updated  # type: ignore[union-attr]  # judged, so there is a state
        if not matching:
            if entity_id in latched:
                if not (isinstance(value, float) and not test.beyond(value, hysteresis)):
                    latched.discard(entity_id)
                else:
                    note(entity_id, value, f"inside the hysteresis band ({hysteresis:g}) since it fired", seen)
                    return
            armed.add(entity_id)
            note(entity_id, value, None, seen)
            return
        if entity_id not in armed:
            why = ("in range, but not re-armed since it fired (hysteresis)" if entity_id in latched
                   else "in range, but not armed: it has not left the range since it last fired")
            note(entity_id, value, why, seen)
            return
        armed.discard(entity_id)
        note(entity_id, value, None, seen)
        old: State | None = data["old_state"]
        if for_config is None:
            fire(entity_id, old, new, None)  # type: ignore[arg-type]
            return
        try:
            period = fields.render_period(for_config, scope(entity_id), hub)
        except TemplateError as err:
            _LOGGER.error("%s: numeric_state trigger 'for' failed: %s", name, err)
            note(entity_id, value, f"'for' failed: {err}")
            return

        def still_matching(state: State | None) -> bool:
            try:
                result = test.matches(state, judging_scope(entity_id) if uses_variables else None, own_scope=True)
            except NumericError:
                result = False
            if not result:
                if status is not None:
                    status.pending(entity_id, None)
                note(entity_id, state.state if state is not None else None,
                     f"left the range before 'for' ({period}) had passed")
            return result

        def held() -> None:
            pending.pop(entity_id, None)
            if status is not None:
                status.pending(entity_id, None)
            fire(entity_id, old, new, period)  # type: ignore[arg-type]

        previous = pending.pop(entity_id, None)
        if previous is not None:
            previous()
        pending[entity_id] = track_same_state(hub, entity_id, period, held, still_matching)
        if status is not None:
            status.pending(entity_id, hub.clock.now() + period)

    unsubscribe = hub.states.listen(entity_ids, changed)

    def detach() -> None:
        unsubscribe()
        for cancel in pending.values():
            cancel()
        pending.clear()

    return detach


def _describe(config: dict[str, Any]) -> str:
    """What the trigger tests, in words: `meter.grid (attribute x) above 80 for 0:00:30, hysteresis 2`."""
    subject = ", ".join(config["entity_id"])
    if config.get("attribute"):
        subject += f" (attribute {config['attribute']})"
    if config.get("value_template"):
        subject += f" (value {config['value_template']})"
    parts = [subject]
    if config.get("above") is not None:
        parts.append(f"above {config['above']:g}" if isinstance(config["above"], float) else f"above {config['above']}")
    if config.get("below") is not None:
        parts.append(f"below {config['below']:g}" if isinstance(config["below"], float) else f"below {config['below']}")
    if config.get("for") is not None:
        parts.append(f"for {config['for']}")
    text = " ".join(parts)
    if config.get("hysteresis"):
        text += f", hysteresis {config['hysteresis']:g}"
    if config.get("unavailable", "ignore") != "ignore":
        policy = config["unavailable"]
        text += f", unavailable: {policy}" if isinstance(policy, str) else f", unavailable treated as {policy:g}"
    return text
