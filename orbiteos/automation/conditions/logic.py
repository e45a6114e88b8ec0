"""`and`, `or` and `not`: combine nested conditions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from orbiteos.automation import condition
from orbiteos.automation.condition import CONDITION_BASE, Check
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub

CONDITION_SCHEMA = vol.Schema(
    {
        **CONDITION_BASE,
        vol.Required("condition"): vol.In(["and", "or", "not"]),
        vol.Required("conditions"): condition.validate_conditions,
    }
)


def build(hub: Hub, config: dict[str, Any]) -> Check:
    kind = config["condition"]
    checks = condition.compile_conditions(hub, config["conditions"])

    def check(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool:
        # Home Assistant's rules: `and` stops at the first False, `or` at the first True, `not` at
        # the first truthy; a condition that could not be judged makes the whole one unjudgeable.
        record = trace.step(path, condition=kind) if trace is not None else None
        errors: list[str] = []
        result: bool | None = None
        for index, nested in enumerate(checks):
            try:
                outcome = nested(variables, trace, f"{path}/conditions/{index}")
            except condition.ConditionError as err:
                errors.append(str(err))
                continue
            if kind == "and" and outcome is False:
                result = False
            elif kind == "or" and outcome is True:
                result = True
            elif kind == "not" and outcome:
                result = False
            if result is not None:
                break
        if result is None and errors:
            if record is not None:
                record["error"] = "; ".join(errors)
            raise condition.ConditionError(f"{kind}: " + "; ".join(errors))
        if result is None:
            result = kind != "or"
        if record is not None:
            record["result"] = result
        return result

    return check
