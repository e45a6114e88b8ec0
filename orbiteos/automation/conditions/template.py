"""`template` condition: `value_template` renders to `true` (a template string is shorthand).

As Home Assistant: only a literal true passes (`true`, `True`, in any case, with spaces around);
`1`, `2`, `"on"` or `"yes"` do not. (Template *triggers* and a wait_template that turns true
later take any truthy result; see `orbiteos.template.result_as_boolean`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from orbiteos.automation import fields
from orbiteos.automation.condition import CONDITION_BASE, Check, ConditionError
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub
from orbiteos.errors import TemplateError
from orbiteos.template import Template

CONDITION_SCHEMA = vol.Schema(
    {
        **CONDITION_BASE,
        vol.Required("condition"): vol.In(["template"]),
        vol.Required("value_template"): fields.template,
    }
)


def renders_true(rendered: Any) -> bool:
    """Home Assistant's template-condition test: the text of the result is `true`."""
    if rendered is True:
        return True
    return isinstance(rendered, str) and rendered.strip().lower() == "true"


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
        result = renders_true(rendered)
        if trace is not None:
            trace.step(path, condition="template", result=result, rendered=rendered)
        return result

    return check
