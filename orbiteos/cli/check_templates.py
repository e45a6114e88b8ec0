"""`orbiteos check`: trigger templates rendered once under the render budget, so one that cannot
finish (two nested `range(100000)` loops) is a `file:line` error now, not a hung start-up later."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orbiteos.config import LoadedConfig
from orbiteos.core import Hub
from orbiteos.errors import ConfigError, TemplateError
from orbiteos.loader import domain_of_key
from orbiteos.template import Template, is_template_string
from orbiteos.template_budget import BudgetExceeded
from orbiteos.yaml_loader import child_position

_TRIGGER_KEYS = ("trigger", "triggers")
_TEMPLATE_KEYS = ("value_template",)


def _trigger_templates(node: Any) -> Iterable[tuple[Mapping[str, Any], str, str]]:
    """(trigger mapping, key, template) for each template option of each trigger under `node`."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in _TRIGGER_KEYS:
                for trigger in value if isinstance(value, list) else [value]:
                    if isinstance(trigger, Mapping):
                        for option in _TEMPLATE_KEYS:
                            text = trigger.get(option)
                            if isinstance(text, str) and is_template_string(text):
                                yield trigger, option, text
            else:
                yield from _trigger_templates(value)
    elif isinstance(node, list):
        for item in node:
            yield from _trigger_templates(item)


def trigger_template_errors(loaded: LoadedConfig) -> list[ConfigError]:
    """An error for each trigger template whose first render (no states yet) passes the render budget."""
    hub = Hub(config=loaded.site)
    errors: list[ConfigError] = []
    for key, block in (loaded.raw or {}).items():
        if domain_of_key(str(key)) != "automation":
            continue
        for trigger, option, text in _trigger_templates(block):
            try:
                Template(text, hub).render({"trigger": {}, "this": {}})
            except BudgetExceeded as err:
                file, line = child_position(trigger, option) or (None, None)
                errors.append(ConfigError(f"{option}: {err}", file, line))
            except TemplateError:
                pass  # with no states yet a render may fail; the trigger reports it at run time
    return errors
