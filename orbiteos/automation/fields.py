"""Validators for automation fields that may hold templates: templates, durations, thresholds.

Validated configs keep templates as strings (syntax-checked here); triggers, conditions and
actions bind them to a hub when they are compiled.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.core import Hub
from orbiteos.errors import TemplateError
from orbiteos.template import Template, is_template_string, render_complex


def template(value: Any) -> str:
    """A template string whose syntax compiles."""
    if value is None:
        raise vol.Invalid("expected a template, found nothing (null)")
    if isinstance(value, Template):
        value = value.source
    if isinstance(value, list | dict):
        raise vol.Invalid(f"expected a template string, found {type(value).__name__}")
    text = str(value)
    try:
        Template(text).ensure_valid()
    except TemplateError as err:
        raise vol.Invalid(str(err)) from None
    return text


def dynamic_template(value: Any) -> str:
    """A string that must be a template (contains `{{` or `{%`)."""
    text = template(value)
    if not is_template_string(text):
        raise vol.Invalid(f"expected a template with {{{{ ... }}}}, found {text!r}")
    return text


def template_complex(value: Any) -> Any:
    """Nested data whose template strings are syntax-checked; an error's path points at the string."""
    if isinstance(value, list):
        result = []
        for index, item in enumerate(value):
            try:
                result.append(template_complex(item))
            except vol.Invalid as err:
                err.prepend([index])
                raise
        return result
    if isinstance(value, Mapping):
        checked = {}
        for key, item in value.items():
            try:
                checked[template_complex(key) if isinstance(key, str) else key] = template_complex(item)
            except vol.Invalid as err:
                err.prepend([key])
                raise
        return checked
    if isinstance(value, str) and is_template_string(value):
        return template(value)
    return value


# Every option name of the dialect, for "did you mean" hints on unknown keys.
VOCABULARY = tuple(
    " ".join(
        [
            "platform trigger entity_id from to not_from not_to attribute for above below value_template at",
            "hours minutes seconds expression event_type event_data context webhook_id allowed_methods",
            "local_only event id alias enabled variables condition conditions state match weekday after before",
            "service action data data_template target response_variable continue_on_error delay wait_template",
            "wait_for_trigger timeout continue_on_timeout event_data_template choose default if then else repeat",
            "count while until for_each sequence stop error parallel topic payload qos encoding hysteresis unavailable",
        ]
    ).split()
)


def hint_unknown_keys(err: vol.Invalid) -> vol.Invalid:
    """Rewrite voluptuous' 'extra keys not allowed' into 'unknown key ...; did you mean ...?'."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    for error in errors:
        if error.msg == "extra keys not allowed" and error.path:
            key = str(error.path[-1])
            close = difflib.get_close_matches(key, VOCABULARY, n=1, cutoff=0.6)
            message = f"unknown key '{key}'" + (f"; did you mean '{close[0]}'?" if close else "")
            error.args = (message, *error.args[1:])
            error._error_message = message
    return err


def period_or_template(value: Any) -> Any:
    """A duration, or a template (string, or a mapping with template values) rendered at run time."""
    if isinstance(value, str) and is_template_string(value):
        return template(value)
    if isinstance(value, Mapping) and any(isinstance(v, str) and is_template_string(v) for v in value.values()):
        return {k: template(v) if isinstance(v, str) else v for k, v in value.items()}
    return cv.positive_time_period(value)


def render_period(value: Any, variables: Mapping[str, Any] | None, hub: Hub) -> timedelta:
    """Render a `period_or_template` value; raises TemplateError for a result that is not a duration."""
    if isinstance(value, timedelta):
        return value
    rendered = render_complex(value, variables, hub)
    try:
        return cv.positive_time_period(rendered)
    except vol.Invalid as err:
        raise TemplateError(f"expected a duration from {value!r}, got {rendered!r}: {err.msg}") from None


def number_or_entity(value: Any) -> float | str:
    """`above:`/`below:` as a number or an entity id whose state is the threshold."""
    if isinstance(value, bool):
        raise vol.Invalid(f"expected a number or an entity id, found {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return cv.entity_id(value)
        except vol.Invalid:
            raise vol.Invalid(f"expected a number or an entity id, found {value!r}") from None
    raise vol.Invalid(f"expected a number or an entity id, found {value!r}")


def _state_value(item: Any) -> str:
    if isinstance(item, bool):
        return "on" if item else "off"
    if item is None or isinstance(item, dict | list):
        raise vol.Invalid(f"expected a state value, found {item!r}")
    return str(item)


def state_values(value: Any) -> str | list[str] | None:
    """`from:`/`to:` values: one, a list, or null (matches any). Booleans read as YAML 1.1 on/off."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_state_value(item) for item in value]
    return _state_value(value)


def enabled_flag(value: Any) -> bool | str:
    if isinstance(value, str) and is_template_string(value):
        return template(value)
    return cv.boolean(value)


def unavailable_policy(value: Any) -> str | float:
    """`unavailable:` (OrbitEOS only): `ignore` (Home Assistant's rule), `fail`, or `{treat_as: N}`."""
    if value in ("ignore", "fail"):
        return str(value)
    if isinstance(value, Mapping) and set(value) == {"treat_as"}:
        treat_as = value["treat_as"]
        if not isinstance(treat_as, bool):
            try:
                return float(treat_as)
            except (TypeError, ValueError):
                pass
        raise vol.Invalid(f"unavailable: treat_as expects a number, found {treat_as!r}")
    raise vol.Invalid(f"expected unavailable: ignore, fail or {{treat_as: <number>}}, found {value!r}")


class TreatAs(str):
    """`unavailable: {treat_as: X}` of a `state` condition: judge the state X instead."""

    __slots__ = ()


def unavailable_state_policy(value: Any) -> str:
    """The `state` condition's `unavailable:`: `ignore`, `fail`, or `{treat_as: <state>}` (a TreatAs)."""
    if value in ("ignore", "fail"):
        return str(value)
    if isinstance(value, Mapping) and set(value) == {"treat_as"}:
        return TreatAs(_state_value(value["treat_as"]))
    raise vol.Invalid(f"expected unavailable: ignore, fail or {{treat_as: <state>}}, found {value!r}")
