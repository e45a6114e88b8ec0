"""Home Assistant blueprint selectors: check that an input value fits its selector.

Selectors OrbitEOS has no special meaning for (area, device, icon, location, ...) accept any
value, so blueprints published for Home Assistant still load and validate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv

SelectorCheck = Callable[[Mapping[str, Any], Any], Any]


def _options(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return config if isinstance(config, Mapping) else {}


def _each(config: Mapping[str, Any], value: Any, check: Callable[[Any], Any]) -> Any:
    if config.get("multiple"):
        return [check(item) for item in cv.ensure_list(value)]
    if isinstance(value, list):
        raise vol.Invalid(f"expected a single value (the selector has no 'multiple: true'), found {cv.found(value)}")
    return check(value)


def _allowed_domains(config: Mapping[str, Any]) -> set[str]:
    domains: set[str] = set()
    for source in [config, *cv.ensure_list(config.get("filter"))]:
        if isinstance(source, Mapping) and source.get("domain"):
            domains.update(cv.ensure_list(source["domain"]))
    return domains


def _entity(config: Mapping[str, Any], value: Any) -> Any:
    domains = _allowed_domains(config)

    def check(item: Any) -> str:
        entity = cv.entity_id(item)
        if domains and entity.partition(".")[0] not in domains:
            raise vol.Invalid(
                f"expected an entity of domain {' or '.join(sorted(domains))}, found {cv.found(item)}"
            )
        return entity

    return _each(config, value, check)


def _number(config: Mapping[str, Any], value: Any) -> Any:
    if isinstance(value, str) and "{{" in value:
        return value  # a template that renders to a number at run time
    cv.number_in_range(config.get("min"), config.get("max"))(value)
    return value


def _boolean(config: Mapping[str, Any], value: Any) -> bool:
    if not isinstance(value, bool):
        raise vol.Invalid(f"expected true or false, found {cv.found(value)}")
    return value


def _text(config: Mapping[str, Any], value: Any) -> Any:
    return _each(config, value, cv.string)


def _select(config: Mapping[str, Any], value: Any) -> Any:
    allowed = []
    for option in cv.ensure_list(config.get("options")):
        allowed.append(str(option["value"]) if isinstance(option, Mapping) else str(option))

    def check(item: Any) -> str:
        text = cv.string(item)
        if allowed and text not in allowed and not config.get("custom_value"):
            raise vol.Invalid(f"expected one of {', '.join(allowed)}, found {cv.found(item)}")
        return text

    return _each(config, value, check)


def _time(config: Mapping[str, Any], value: Any) -> Any:
    cv.time_of_day_value(value)
    return value


def _duration(config: Mapping[str, Any], value: Any) -> Any:
    cv.time_period(value)
    return value


def _template(config: Mapping[str, Any], value: Any) -> Any:
    from orbiteos.errors import TemplateError
    from orbiteos.template import Template

    text = cv.string(value)
    try:
        Template(text).ensure_valid()
    except TemplateError as err:
        raise vol.Invalid(f"expected a valid template: {err}") from None
    return text


def _list_of_mappings(config: Mapping[str, Any], value: Any) -> Any:
    items = cv.ensure_list(value)
    for item in items:
        if not isinstance(item, Mapping):
            raise vol.Invalid(f"expected a list of mappings, found {cv.found(item)}")
    return value


def _anything(config: Mapping[str, Any], value: Any) -> Any:
    return value


SELECTORS: dict[str, SelectorCheck] = {
    "entity": _entity,
    "number": _number,
    "boolean": _boolean,
    "text": _text,
    "select": _select,
    "time": _time,
    "duration": _duration,
    "template": _template,
    "object": _anything,
    "action": _list_of_mappings,
    "condition": _list_of_mappings,
    "trigger": _list_of_mappings,
}


def check_value(selector: Mapping[str, Any] | None, value: Any) -> Any:
    """Return `value` (normalised) if it fits `selector`, else raise vol.Invalid saying why.

    `selector` is the blueprint's `selector:` mapping, e.g. `{"number": {"min": 0, "max": 100}}`.
    """
    if not selector or not isinstance(selector, Mapping):
        return value
    kind, config = next(iter(selector.items()))
    check = SELECTORS.get(str(kind), _anything)
    if value is None:
        return value
    return check(_options(config), value)
