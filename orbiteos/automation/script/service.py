"""Service call step: `action:`/`service:` with `data`, `target`, templated anywhere.

The legacy spellings Home Assistant 2024.3 still accepts are accepted too: `service_template:` for the
service and `data_template:` for data (merged over `data:`, as there). `scene: scene.x` (Home
Assistant's shorthand) is a call of `scene.turn_on` for that entity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import fields
from orbiteos.automation.script.run import Run
from orbiteos.automation.script.sequence import STEP_BASE, StepFunc
from orbiteos.core import Hub
from orbiteos.errors import OrbitEOSError, TemplateError
from orbiteos.template import Template, compile_complex, has_templates, is_template_string, render_complex


def _service_name(value: Any) -> str:
    text = cv.string(value).strip()
    if is_template_string(text):
        return fields.template(text)
    domain, dot, service = text.partition(".")
    if not (domain and dot and service) or " " in text:
        raise vol.Invalid(f"expected a service like 'battery.set_power', found {value!r}")
    return text.lower()


class ServiceRenderError(OrbitEOSError):
    """The service name, target or data of a call could not be rendered.

    As Home Assistant: a run-time failure of the call (so `continue_on_error` goes past it), not
    a template error of the automation.
    """


def _mapping(value: Any) -> Any:
    if value is not None and not isinstance(value, dict):
        raise vol.Invalid(f"expected a mapping or a template, found {value!r}")
    return fields.template_complex(value or {})


_SCHEMA = vol.Schema(
    {
        **STEP_BASE,
        vol.Required("service"): _service_name,
        # A mapping (templates anywhere in it) or, as in Home Assistant, one template for the whole.
        vol.Optional("data"): vol.Any(fields.dynamic_template, _mapping),
        vol.Optional("data_template"): vol.Any(fields.dynamic_template, _mapping),
        vol.Optional("target"): vol.Any(fields.dynamic_template, _mapping),
        vol.Optional("entity_id"): fields.template_complex,
        vol.Optional("response_variable"): cv.string,
    }
)


def validate(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    config = dict(config)
    if kind == "scene":  # Home Assistant's `scene: scene.x`, short for a scene.turn_on call
        scene = cv.entity_id(config.pop("scene"))
        config = {**config, "service": "scene.turn_on", "target": {"entity_id": scene}}
    # One name for the service: `action:`, `service:` or the legacy `service_template:`.
    given = [key for key in ("action", "service", "service_template") if key in config]
    if len(given) > 1:
        raise vol.Invalid(f"use one of 'action:', 'service:' or 'service_template:' for the service to call, "
                          f"not {' and '.join(repr(key + ':') for key in given)}")
    if given and given[0] != "service":
        config["service"] = config.pop(given[0])
    validated: dict[str, Any] = _SCHEMA(config)
    return validated


def build(hub: Hub, kind: str, config: dict[str, Any]) -> StepFunc:
    service_config: str = config["service"]
    data_parts = [config[key] for key in ("data", "data_template") if key in config]
    if any(isinstance(part, str) for part in data_parts):
        data: Any = _WholeTemplates([Template(p, hub) if isinstance(p, str) else p for p in data_parts], "data")
    else:
        data = {key: value for part in data_parts for key, value in part.items()}
    target_config = config.get("target") or {}
    if isinstance(target_config, str):
        extra = [{"entity_id": config["entity_id"]}] if "entity_id" in config else []
        target: Any = _WholeTemplates([Template(target_config, hub), *extra], "target")
    else:
        target = dict(target_config)
        if "entity_id" in config:
            target["entity_id"] = config["entity_id"]
    name_template = Template(service_config, hub) if is_template_string(service_config) else None
    static_domain, _, static_service = service_config.partition(".")
    render_data = _renderer(data, hub)
    render_target = _renderer(target, hub)
    response_variable = config.get("response_variable")

    async def call_service(run: Run, variables: dict[str, Any], path: str) -> None:
        if name_template is not None:
            try:
                rendered = str(name_template.render_str(variables))
            except TemplateError as err:
                raise ServiceRenderError(f"error rendering the service name: {err}") from None
            domain, dot, service = rendered.partition(".")
            if not (domain and dot and service):
                raise ServiceRenderError(
                    f"service template {service_config!r} rendered {rendered!r}, not 'domain.service'"
                )
        else:
            domain, service = static_domain, static_service
        try:
            call_target = render_target(variables)
        except TemplateError as err:
            raise ServiceRenderError(f"error rendering the service target: {err}") from None
        try:
            call_data = render_data(variables)
        except TemplateError as err:
            raise ServiceRenderError(f"error rendering the service data: {err}") from None
        if call_target:
            call_data, call_target = _as_home_assistant(call_data, call_target)
        record = run.step(path, service=f"{domain}.{service}", data=call_data, target=call_target or None)
        result = await hub.services.call(domain, service, call_data, call_target or None, run.context)
        if record is not None and result is not None:
            record["response"] = result
        if response_variable:
            variables[response_variable] = result

    return call_service


_LISTED_TARGETS = ("device_id", "area_id", "floor_id", "label_id")


def _as_home_assistant(data: Any, target: Any) -> tuple[Any, Any]:
    """Home Assistant's merge: the target's keys replace the data's (an `entity_id` in both is the
    target's), and device/area ids are lists."""
    if "entity_id" in target and "entity_id" in data:
        data = {key: value for key, value in data.items() if key != "entity_id"}
    if any(key in target and not isinstance(target[key], list) for key in _LISTED_TARGETS):
        target = {key: [value] if key in _LISTED_TARGETS and not isinstance(value, list) else value
                  for key, value in target.items()}
    return data, target


def _renderer(spec: Any, hub: Hub) -> Callable[[dict[str, Any]], Any]:
    """How to get the data (or target) of one call: as it is, rendered, or from a whole template."""
    if isinstance(spec, _WholeTemplates):
        return lambda variables: spec.render(variables, hub)
    if not has_templates(spec):
        return lambda variables: spec
    compiled = compile_complex(spec, hub)
    return lambda variables: render_complex(compiled, variables, hub)


class _WholeTemplates:
    """Service data or target given as one template (`data: "{{ {...} }}"`), with mappings merged
    over it in order; renders to a dict or fails as Home Assistant does ("not a dictionary")."""

    def __init__(self, parts: list[Any], what: str) -> None:
        self.parts = parts
        self.what = what

    def render(self, variables: dict[str, Any], hub: Hub) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for part in self.parts:
            rendered = part.render(variables) if isinstance(part, Template) else render_complex(part, variables, hub)
            if not isinstance(rendered, dict):
                raise TemplateError(f"the service {self.what} template rendered {rendered!r}, not a mapping")
            result.update(rendered)
        return result
