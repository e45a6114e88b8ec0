"""`trigger` condition: the run was started by a trigger with one of these ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation.condition import CONDITION_BASE, Check
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub

CONDITION_SCHEMA = vol.Schema(
    {
        **CONDITION_BASE,
        vol.Required("condition"): vol.In(["trigger"]),
        vol.Required("id"): vol.All(cv.ensure_list, [vol.Coerce(str)]),
    }
)


def build(hub: Hub, config: dict[str, Any]) -> Check:
    ids = set(config["id"])

    def check(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool:
        trigger = variables.get("trigger") or {}
        seen = trigger.get("id") if isinstance(trigger, Mapping) else None
        result = seen in ids
        if trace is not None:
            trace.step(path, condition="trigger", result=result, id=seen)
        return result

    return check
