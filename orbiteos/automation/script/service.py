"""Service call step: `action:`/`service:` with `data`, `target`, templated anywhere."""

from __future__ import annotations

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


_SCHEMA = vol.Schema(
    {
        **STEP_BASE,
        vol.Required("service"): _service_name,
        vol.Optional("data"): vol.All(vol.Any(dict, None), lambda v: fields.template_complex(v or {})),
        vol.Optional("data_template"): vol.All(vol.Any(dict, None), lambda v: fields.template_complex(v or {})),
        vol.Optional("target"): vol.All(vol.Any(dict, None), lambda v: fields.template_complex(v or {})),
        vol.Optional("entity_id"): fields.template_complex,
        vol.Optional("response_variable"): cv.string,
    }
)


def validate(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    config = dict(config)
    if "action" in config:
        if "service" in config:
            raise vol.Invalid("use either 'action:' or 'service:' for the service to call, not both")
        config["service"] = config.pop("action")
    validated: dict[str, Any] = _SCHEMA(config)
    return validated


def build(hub: Hub, kind: str, config: dict[str, Any]) -> StepFunc:
    service_config: str = config["service"]
    data = {**config.get("data", {}), **config.get("data_template", {})}
    target = dict(config.get("target") or {})
    if "entity_id" in config:
        target["entity_id"] = config["entity_id"]
    name_template = Template(service_config, hub) if is_template_string(service_config) else None
    static_domain, _, static_service = service_config.partition(".")
    data_compiled = compile_complex(data, hub)
    target_compiled = compile_complex(target, hub)
    data_static = not has_templates(data)
    target_static = not has_templates(target)
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
            call_target = target if target_static else render_complex(target_compiled, variables, hub)
        except TemplateError as err:
            raise ServiceRenderError(f"error rendering the service target: {err}") from None
        try:
            call_data = data if data_static else render_complex(data_compiled, variables, hub)
        except TemplateError as err:
            raise ServiceRenderError(f"error rendering the service data: {err}") from None
        record = run.step(path, service=f"{domain}.{service}", data=call_data, target=call_target or None)
        result = await hub.services.call(domain, service, call_data, call_target or None, run.context)
        if record is not None and result is not None:
            record["response"] = result
        if response_variable:
            variables[response_variable] = result

    return call_service
