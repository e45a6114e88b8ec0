"""`state` condition: entities are in one of the given states (or attribute values), optionally `for:`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.condition import CONDITION_BASE, Check
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub


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
        }
    )(value)


CONDITION_SCHEMA = _schema


def build(hub: Hub, config: dict[str, Any]) -> Check:
    entity_ids: list[str] = config["entity_id"]
    wanted: list[Any] = config["state"]
    attribute = config.get("attribute")
    for_config = config.get("for")
    any_match = config["match"] == "any"

    def one(entity_id: str, variables: Mapping[str, Any]) -> tuple[bool, Any]:
        state = hub.states.get(entity_id)
        if state is None:
            return False, None
        value = state.state if attribute is None else state.attributes.get(attribute)
        if attribute is not None and attribute not in state.attributes:
            return False, None
        if value not in wanted:
            return False, value
        if for_config is None:
            return True, value
        period = fields.render_period(for_config, variables, hub)
        since = state.last_changed if attribute is None else state.last_updated
        return hub.clock.now() - since >= period, value

    def check(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool:
        seen: dict[str, Any] = {}
        results = []
        for entity_id in entity_ids:
            ok, value = one(entity_id, variables)
            seen[entity_id] = value
            results.append(ok)
        result = any(results) if any_match else all(results)
        if trace is not None:
            trace.step(path, condition="state", result=result, state=seen, wanted=wanted)
        return result

    return check
