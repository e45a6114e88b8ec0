"""`event` step: fire an event with templated `event_data`, in the run's context."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.script.run import Run
from orbiteos.automation.script.sequence import STEP_BASE, StepFunc
from orbiteos.core import Hub
from orbiteos.template import compile_complex, render_complex

_SCHEMA = vol.Schema(
    {
        **STEP_BASE,
        vol.Required("event"): cv.string,
        vol.Optional("event_data"): vol.All(vol.Any(dict, None), lambda v: fields.template_complex(v or {})),
        vol.Optional("event_data_template"): vol.All(vol.Any(dict, None), lambda v: fields.template_complex(v or {})),
    }
)


def validate(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    validated: dict[str, Any] = _SCHEMA(config)
    return validated


def build(hub: Hub, kind: str, config: dict[str, Any]) -> StepFunc:
    event_type = config["event"]
    data = compile_complex({**config.get("event_data", {}), **config.get("event_data_template", {})}, hub)

    async def fire(run: Run, variables: dict[str, Any], path: str) -> None:
        event_data = render_complex(data, variables, hub)
        run.step(path, event=event_type, event_data=event_data)
        hub.bus.fire(event_type, event_data, context=run.context)

    return fire
