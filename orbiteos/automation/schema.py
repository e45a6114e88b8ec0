"""One automation's configuration: the Home Assistant keys, their aliases, and their validation.

Accepts `trigger`/`triggers`, `condition`/`conditions`, `action`/`actions` (the plural is what the
validated config holds), resolves `use_blueprint:` through `orbiteos.automation.blueprint` when
that module is present, and reports unknown keys with the nearest known one.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.condition import validate_conditions
from orbiteos.automation.script import validate_actions
from orbiteos.automation.trace import DEFAULT_STORED_TRACES
from orbiteos.automation.trigger import validate_triggers

MODES = ("single", "restart", "queued", "parallel")
DEFAULT_MAX = 10
_PLURALS = {"trigger": "triggers", "condition": "conditions", "action": "actions"}
_LOG_LEVELS = ("silent", "debug", "info", "warning", "error", "critical")

AUTOMATION_SCHEMA = vol.Schema(
    {
        vol.Optional("id"): vol.All(cv.string, vol.Length(min=1)),
        vol.Optional("alias"): cv.string,
        vol.Optional("description"): cv.string,
        vol.Optional("mode", default="single"): cv.one_of(*MODES),
        vol.Optional("max", default=DEFAULT_MAX): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("max_exceeded", default="warning"): vol.All(vol.Coerce(str), vol.Lower, cv.one_of(*_LOG_LEVELS)),
        vol.Optional("variables"): vol.All(vol.Any(dict, None), lambda v: fields.template_complex(v or {})),
        vol.Optional("trigger_variables"): vol.All(vol.Any(dict, None), lambda v: fields.template_complex(v or {})),
        vol.Optional("initial_state"): cv.boolean,
        # OrbitEOS: which source wins a device when two automations steer it (docs/failsafe.md).
        vol.Optional("priority", default=0): vol.All(vol.Coerce(float), vol.Range(min=-1000, max=1000)),
        vol.Optional("trace"): {vol.Optional("stored_traces", default=DEFAULT_STORED_TRACES): cv.positive_int},
        vol.Required("triggers"): vol.All(vol.Any(list, dict), validate_triggers),
        vol.Optional("conditions", default=list): vol.All(vol.Any(list, dict, str, None), lambda v: v or [],
                                                          validate_conditions),
        vol.Required("actions"): vol.All(vol.Any(list, dict), validate_actions),
    }
)
KNOWN_KEYS = sorted([str(k) for k in AUTOMATION_SCHEMA.schema] + list(_PLURALS) + ["use_blueprint"])


def normalize(config: Mapping[str, Any]) -> dict[str, Any]:
    """Singular keys as plural; both spellings at once is an error."""
    normalized = dict(config)
    for singular, plural in _PLURALS.items():
        if singular in normalized:
            if plural in normalized:
                raise vol.Invalid(f"use either '{singular}' or '{plural}', not both", path=[plural])
            normalized[plural] = normalized.pop(singular)
    return normalized


def expand_blueprint(config: Mapping[str, Any], config_dir: Path | None) -> Mapping[str, Any]:
    """Resolve `use_blueprint:` with the blueprint module, when it exists."""
    if "use_blueprint" not in config:
        return config
    try:
        blueprint = importlib.import_module("orbiteos.automation.blueprint")
    except ImportError as err:
        raise vol.Invalid(f"use_blueprint: blueprints are not available ({err})", path=["use_blueprint"]) from None
    substitute = getattr(blueprint, "substitute", None)
    if substitute is not None:
        return substitute(config, config_dir)  # type: ignore[no-any-return]
    expanded: Mapping[str, Any] = blueprint.expand_use_blueprint(config, config_dir)
    return expanded


def validate_automation(config: Any) -> dict[str, Any]:
    """Validate one automation (already blueprint-expanded); raises vol.Invalid with a path."""
    if not isinstance(config, Mapping):
        raise vol.Invalid(f"expected an automation (a mapping), found {type(config).__name__}")
    unknown = [k for k in config if str(k) not in KNOWN_KEYS]
    if unknown:
        key = str(unknown[0])
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(KNOWN_KEYS)}"
        raise vol.Invalid(f"unknown key '{key}'; {hint}", path=[unknown[0]])
    normalized = normalize(config)
    try:
        validated: dict[str, Any] = AUTOMATION_SCHEMA(normalized)
    except vol.Invalid as err:
        raise _singular_paths(err, config) from None
    validated.setdefault("trace", {"stored_traces": DEFAULT_STORED_TRACES})
    return validated


def _singular_paths(err: vol.Invalid, original: Mapping[str, Any]) -> vol.Invalid:
    """Point error paths at the key as written (`trigger` when the file says `trigger`)."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    for error in errors:
        if error.path:
            head = str(error.path[0].schema if isinstance(error.path[0], vol.Marker) else error.path[0])
            for singular, plural in _PLURALS.items():
                if head == plural and singular in original:
                    error.path[0] = singular
    return err
