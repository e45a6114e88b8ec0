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
        record = trace.step(path, condition=kind) if trace is not None else None
        results = [c(variables, trace, f"{path}/conditions/{i}") for i, c in enumerate(checks)]
        enabled = [r for r in results if r is not None]
        if kind == "and":
            result = all(enabled)
        elif kind == "or":
            result = any(enabled) if enabled else True
        else:
            result = not any(enabled)
        if record is not None:
            record["result"] = result
        return result

    return check
