"""`numeric_state` condition: the value is above/below thresholds (numbers or entity ids)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.condition import CONDITION_BASE, Check, ConditionError, ConditionFailed
from orbiteos.automation.numeric import NumericError, NumericTest, NumericUnavailable
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub

CONDITION_SCHEMA = vol.All(
    vol.Schema(
        {
            **CONDITION_BASE,
            vol.Required("condition"): vol.In(["numeric_state"]),
            vol.Required("entity_id"): cv.entity_ids,
            vol.Optional("above"): fields.number_or_entity,
            vol.Optional("below"): fields.number_or_entity,
            vol.Optional("attribute"): vol.Coerce(str),
            vol.Optional("value_template"): fields.template,
            vol.Optional("unavailable", default="ignore"): fields.unavailable_policy,
        }
    ),
    cv.has_at_least_one_key("above", "below"),
)


def build(hub: Hub, config: dict[str, Any]) -> Check:
    entity_ids: list[str] = config["entity_id"]
    test = NumericTest(hub, config.get("above"), config.get("below"), config.get("attribute"),
                       config.get("value_template"), config["unavailable"])

    def check(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool:
        # Home Assistant's rules: the first entity out of range decides False; an entity that
        # cannot be judged makes the condition unjudgeable only when none decided.
        seen: dict[str, Any] = {}
        result = True
        errors: list[str] = []
        for entity_id in entity_ids:
            state = hub.states.get(entity_id)
            try:
                if state is None:
                    raise NumericError(f"unknown entity {entity_id}")
                seen[entity_id] = test.value(state, variables)
                ok = test.matches(state, variables)
            except NumericUnavailable as err:
                if trace is not None:
                    trace.step(path, condition="numeric_state", result=None, value=seen, error=str(err))
                raise ConditionFailed(f"{path}: {err}") from None
            except NumericError as err:
                errors.append(f"{entity_id}: {err}")
                continue
            if not ok:
                result = False
                break
        error = "; ".join(errors) if errors and result else None
        if trace is not None:
            trace.step(path, condition="numeric_state", result=None if error else result, value=seen,
                       above=test.above, below=test.below, **({"error": error} if error else {}))
        if error:
            raise ConditionError(error)
        return result

    return check
