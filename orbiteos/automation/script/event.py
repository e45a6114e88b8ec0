"""`event` step: fire an event with templated `event_data`, in the run's context.

A part of the data that fails to render is left out and the event still fires (Home Assistant).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.script.run import Run
from orbiteos.automation.script.sequence import STEP_BASE, StepFunc
from orbiteos.core import Hub
from orbiteos.errors import TemplateError
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
    parts = [compile_complex(config[key], hub) for key in ("event_data", "event_data_template") if config.get(key)]

    async def fire(run: Run, variables: dict[str, Any], path: str) -> None:
        event_data: dict[str, Any] = {}
        errors: list[str] = []
        for part in parts:
            # As Home Assistant: a part that fails to render is left out, logged, and the event fires.
            try:
                event_data.update(render_complex(part, variables, hub))
            except TemplateError as err:
                errors.append(str(err))
                run.logger.error("%s: %s: error rendering event data: %s", run.name, path, err)
        run.step(path, event=event_type, event_data=event_data, **({"error": "; ".join(errors)} if errors else {}))
        hub.bus.fire(event_type, event_data, context=run.context)

    return fire
