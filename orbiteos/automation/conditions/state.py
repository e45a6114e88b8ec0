"""`state` condition: entities are in one of the given states (or attribute values), optionally `for:`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.condition import CONDITION_BASE, Check, ConditionError, ConditionFailed
from orbiteos.automation.trace import Trace
from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Hub
from orbiteos.errors import TemplateError

INPUT_ENTITY_ID = re.compile(r"^input_(?:select|text|number|boolean|datetime)\.(?!_)[\da-z_]+(?<!_)$")


def _schema(value: Any) -> Any:
    has_attribute = isinstance(value, dict) and "attribute" in value
    return vol.Schema(
        {
            **CONDITION_BASE,
            vol.Required("condition"): vol.In(["state"]),
            vol.Required("entity_id"): cv.entity_ids,
            vol.Required("state"): (lambda v: v if isinstance(v, list) else [v]) if has_attribute
            else vol.All(fields.state_values, cv.ensure_list),
            vol.Optional("attribute"): vol.Coerce(str),
            vol.Optional("for"): fields.period_or_template,
            vol.Optional("match", default="all"): vol.In(["all", "any"]),
            vol.Optional("unavailable", default="ignore"): fields.unavailable_state_policy,
        }
    )(value)


CONDITION_SCHEMA = _schema


def build(hub: Hub, config: dict[str, Any]) -> Check:
    entity_ids: list[str] = config["entity_id"]
    wanted: list[Any] = config["state"]
    attribute = config.get("attribute")
    for_config = config.get("for")
    any_match = config["match"] == "any"
    policy = config["unavailable"]

    def wanted_value(item: Any) -> Any:
        # As Home Assistant: an input_* entity id stands for that entity's state.
        if isinstance(item, str) and INPUT_ENTITY_ID.match(item):
            referenced = hub.states.get(item)
            if referenced is None:
                raise ConditionError(f"the 'state' entity {item} is unavailable")
            return referenced.state
        return item

    def one(entity_id: str, variables: Mapping[str, Any]) -> tuple[bool, Any]:
        state = hub.states.get(entity_id)
        if state is None:
            raise ConditionError(f"unknown entity {entity_id}")
        if policy != "ignore" and state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            # OrbitEOS's `unavailable:` policy: fail loudly, or judge a stand-in state.
            if not isinstance(policy, fields.TreatAs):
                raise ConditionFailed(f"{entity_id} is {state.state} (unavailable: fail)")
            value: Any = str(policy)
        else:
            if attribute is not None and attribute not in state.attributes:
                return False, None
            value = state.state if attribute is None else state.attributes.get(attribute)
        if not any(value == wanted_value(item) for item in wanted):
            return False, value
        if for_config is None:
            return True, value
        try:
            period = fields.render_period(for_config, variables, hub)
        except TemplateError as err:
            raise ConditionError(str(err)) from None
        # Counted from the state's last change, with `attribute:` too (Home Assistant's rule). HA
        # asks for strictly longer, which on a real clock is never an exact tie; under the virtual
        # clock a check at exactly the period is a tie, taken as held.
        return hub.clock.now() - state.last_changed >= period, value

    def check(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool:
        # Home Assistant's rules: `all` stops at the first False, `any` at the first True; an
        # entity that cannot be judged makes the condition unjudgeable when nothing else decided.
        seen: dict[str, Any] = {}
        errors: list[str] = []
        result: bool | None = None
        for entity_id in entity_ids:
            try:
                ok, seen[entity_id] = one(entity_id, variables)
            except ConditionError as err:
                errors.append(str(err))
                continue
            if ok and any_match:
                result = True
                break
            if not ok and not any_match:
                result = False
                break
        if result is None and errors:
            if trace is not None:
                trace.step(path, condition="state", result=None, state=seen, wanted=wanted, error="; ".join(errors))
            raise ConditionError("; ".join(errors))
        if result is None:
            result = not any_match
        if trace is not None:
            trace.step(path, condition="state", result=result, state=seen, wanted=wanted)
        return result

    return check
