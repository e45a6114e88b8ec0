"""`template` condition: `value_template` renders to something true (a template string is shorthand)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from orbiteos.automation import fields
from orbiteos.automation.condition import CONDITION_BASE, Check, ConditionError
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub
from orbiteos.errors import TemplateError
from orbiteos.template import Template, result_as_boolean

CONDITION_SCHEMA = vol.Schema(
    {
        **CONDITION_BASE,
        vol.Required("condition"): vol.In(["template"]),
        vol.Required("value_template"): fields.template,
    }
)


def build(hub: Hub, config: dict[str, Any]) -> Check:
    template = Template(config["value_template"], hub)
    template.ensure_valid()

    def check(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool:
        try:
            rendered = template.render(variables)
        except TemplateError as err:
            if trace is not None:
                trace.step(path, condition="template", result=None, error=str(err))
            raise ConditionError(str(err)) from None
        result = result_as_boolean(rendered)
        if trace is not None:
            trace.step(path, condition="template", result=result, rendered=rendered)
        return result

    return check
