"""`delay` step: a number of seconds, "HH:MM:SS", a mapping, or a template; under hub.clock time."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos.automation import fields
from orbiteos.automation.script.run import Run
from orbiteos.automation.script.sequence import STEP_BASE, TOP_LEVEL, StepFunc
from orbiteos.core import Hub

_SCHEMA = vol.Schema({**STEP_BASE, vol.Required("delay"): fields.period_or_template})


def validate(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    validated: dict[str, Any] = _SCHEMA(config)
    return validated


def build(hub: Hub, kind: str, config: dict[str, Any]) -> StepFunc:
    delay_config = config["delay"]

    async def delay(run: Run, variables: dict[str, Any], path: str) -> None:
        period = fields.render_period(delay_config, variables, hub)
        record = run.step(path, delay=period.total_seconds(), done=False)
        durable = path.rpartition("/")[0] == TOP_LEVEL  # a top-level delay survives a restart
        if durable:
            run.sleeping = (hub.clock.now() + period, variables)
        try:
            await hub.clock.sleep(period.total_seconds())
        finally:
            if durable:
                run.sleeping = None
        if record is not None:
            record["done"] = True

    return delay
