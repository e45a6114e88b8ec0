"""Conditions: validated once, compiled into small checks `check(variables, trace, path) -> bool | None`.

A platform is a module in `orbiteos.automation.conditions` with `CONDITION_SCHEMA` and
`build(hub, config) -> Check`. `and`/`or`/`not` nest other conditions; a bare template string is
the template shorthand; `and:`/`or:`/`not:` as keys are shorthands too, and so is `condition: [...]`
(a list: `and`). A disabled condition (`enabled: false`) checks as None, which passes in a list of
conditions (Home Assistant's rule). A condition that cannot judge (a template error, a
non-numeric state for numeric_state, an unknown entity) raises `ConditionError` and says why in
the trace; in a list (`all_pass`) that counts as false, with a warning, as in Home Assistant.
Inside `and`/`or`/`not` it decides only when nothing else does. A condition whose `unavailable:
fail` policy met an unavailable value raises `ConditionFailed` instead: the run ends as an error.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import voluptuous as vol

from orbiteos.automation.fields import hint_unknown_keys
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub
from orbiteos.errors import OrbitEOSError
from orbiteos.template import is_template_string
from orbiteos.validation import validate_each

_LOGGER = logging.getLogger("orbiteos.automation")

Check = Callable[[Mapping[str, Any], Trace | None, str], bool | None]


class ConditionPlatform(Protocol):
    CONDITION_SCHEMA: Callable[[Any], Any]

    def build(self, hub: Hub, config: dict[str, Any]) -> Check: ...


_BUILTIN = {
    "and": "logic",
    "or": "logic",
    "not": "logic",
    "state": "state",
    "numeric_state": "numeric_state",
    "template": "template",
    "time": "time",
    "trigger": "trigger",
}
CONDITION_BASE: dict[Any, Any] = {
    vol.Required("condition"): str,
    vol.Optional("alias"): vol.Coerce(str),
    vol.Optional("enabled"): vol.Any(bool, str),
}
_SHORTHANDS = ("and", "or", "not")


def get_platform(name: str) -> ConditionPlatform:
    module = _BUILTIN.get(name)
    if module is None:
        raise vol.Invalid(f"unknown condition {name!r}; expected one of {', '.join(sorted(_BUILTIN))}")
    platform: ConditionPlatform = importlib.import_module(f"orbiteos.automation.conditions.{module}")  # type: ignore[assignment]
    return platform


def normalize(config: Any) -> Any:
    """Template strings and `and:`/`or:`/`not:` shorthands as full condition mappings."""
    if isinstance(config, str):
        if not is_template_string(config):
            raise vol.Invalid(f"expected a condition (a mapping or a template string), found {config!r}")
        return {"condition": "template", "value_template": config}
    if isinstance(config, Mapping) and isinstance(config.get("condition"), str) and is_template_string(
        config["condition"]
    ):  # `condition: "{{ ... }}"`, Home Assistant's template shorthand in a mapping
        rest = {k: v for k, v in config.items() if k != "condition"}
        return {"condition": "template", "value_template": config["condition"], **rest}
    if isinstance(config, Mapping) and isinstance(config.get("condition"), list):
        # `condition: [a, b]`: Home Assistant's list shorthand for `and`.
        rest = {k: v for k, v in config.items() if k != "condition"}
        return {"condition": "and", "conditions": config["condition"], **rest}
    if isinstance(config, Mapping) and "condition" not in config:
        shorthand = [key for key in _SHORTHANDS if key in config]
        if len(shorthand) == 1:
            rest = {k: v for k, v in config.items() if k != shorthand[0]}
            return {"condition": shorthand[0], "conditions": config[shorthand[0]], **rest}
    return config


def validate_condition(config: Any) -> dict[str, Any]:
    config = normalize(config)
    if not isinstance(config, Mapping):
        raise vol.Invalid(f"expected a condition mapping, found {config!r}")
    if "condition" not in config:
        raise vol.Invalid("expected 'condition:' naming the kind of condition (state, numeric_state, template ...)")
    platform = get_platform(str(config["condition"]))
    try:
        return dict(platform.CONDITION_SCHEMA(dict(config)))
    except vol.Invalid as err:
        raise hint_unknown_keys(err) from None


def validate_conditions(configs: Any) -> list[dict[str, Any]]:
    return validate_each(configs, validate_condition)


def compile_condition(hub: Hub, config: dict[str, Any]) -> Check:
    """A check for one validated condition (honouring `enabled`)."""
    enabled = config.get("enabled", True)
    if enabled is False:
        return lambda variables, trace, path: _disabled(trace, path)
    check = get_platform(config["condition"]).build(hub, config)
    if isinstance(enabled, str):
        from orbiteos.template import Template, render_bool

        flag = Template(enabled, hub)

        def maybe(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool | None:
            if not render_bool(flag, variables):
                return _disabled(trace, path)
            return check(variables, trace, path)

        return maybe
    return check


def compile_conditions(hub: Hub, configs: list[dict[str, Any]]) -> list[Check]:
    return [compile_condition(hub, config) for config in configs]


class ConditionError(Exception):
    """A condition could not be judged (a template error, a non-numeric state, an unknown entity)."""


class ConditionFailed(OrbitEOSError):
    """An unavailable value met `unavailable: fail`: the run ends as an error, never silently false."""


def all_pass(
    checks: list[Check], variables: Mapping[str, Any], trace: Trace | None, prefix: str, name: str = ""
) -> bool:
    """True unless some check says False (disabled ones say None).

    A condition that cannot be judged counts as false, with a warning, after the others have had
    their say (Home Assistant's rule).
    """
    errors: list[str] = []
    for index, check in enumerate(checks):
        try:
            if check(variables, trace, f"{prefix}/{index}") is False:
                return False
        except ConditionError as err:
            errors.append(f"{prefix}/{index}: {err}")
    if errors:
        _LOGGER.warning("%s: a condition could not be judged, taken as false: %s", name or prefix, "; ".join(errors))
        if trace is not None:
            trace.step(prefix, result=False, error="; ".join(errors))
        return False
    return True


def _disabled(trace: Trace | None, path: str) -> bool | None:
    if trace is not None:
        trace.step(path, result=None, enabled=False)
    return None
