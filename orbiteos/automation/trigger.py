"""Trigger platforms: the contract, the registry keyed by platform name, and attaching a trigger list.

A trigger platform is any object (usually a module) with

    TRIGGER_SCHEMA: voluptuous schema of one trigger's config (with `platform` and the common keys)
    async def async_attach(hub, config, action, trigger_info) -> unsubscribe

`async_attach` subscribes to whatever the trigger watches and calls
`action(run_variables, context)` each time it fires, where `run_variables` is
`{"trigger": {...}}` with the keys Home Assistant puts there (`platform`, `entity_id`,
`from_state`, `to_state`, `for`, `id`, `idx`, `description` ...) plus
`trigger_info["trigger_data"]` (`id`, `idx`, `alias`) merged in. `action` is a plain callable
that returns quickly (it schedules the run itself); platforms never await it.

Built-in platforms live in `orbiteos.automation.triggers.<module>`. Any other platform name
`x` is looked up lazily in `orbiteos.integrations.x.trigger` (the MQTT integration provides
`mqtt` this way), so an integration adds a trigger platform without touching this module.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NotRequired, Protocol, TypedDict, runtime_checkable

import voluptuous as vol

from orbiteos.automation.fields import hint_unknown_keys
from orbiteos.automation.status import TriggerStatus
from orbiteos.core import Context, Hub, Unsubscribe
from orbiteos.errors import TemplateError
from orbiteos.template import Template, render_complex
from orbiteos.validation import validate_each

_LOGGER = logging.getLogger(__name__)

TriggerAction = Callable[[dict[str, Any], Context | None], Any]


class TriggerData(TypedDict, total=False):
    id: str
    idx: str
    alias: str | None


class TriggerInfo(TypedDict):
    """What a platform is told about the automation it serves."""

    name: str
    # Trigger variables (`trigger_variables:`): the only variables trigger options may use.
    variables: dict[str, Any]
    trigger_data: TriggerData
    # Where the platform notes what it saw and decided, for `explain` (optional for platforms).
    status: NotRequired[TriggerStatus]


@runtime_checkable
class TriggerPlatform(Protocol):
    TRIGGER_SCHEMA: Callable[[Any], Any]

    async def async_attach(
        self, hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
    ) -> Unsubscribe: ...


# Platform name -> module that implements it (built in).
_BUILTIN: dict[str, str] = {
    "state": "orbiteos.automation.triggers.state",
    "numeric_state": "orbiteos.automation.triggers.numeric_state",
    "time": "orbiteos.automation.triggers.time",
    "time_pattern": "orbiteos.automation.triggers.time_pattern",
    "cron": "orbiteos.automation.triggers.cron",
    "event": "orbiteos.automation.triggers.event",
    "template": "orbiteos.automation.triggers.template",
    "webhook": "orbiteos.automation.triggers.webhook",
    "homeassistant": "orbiteos.automation.triggers.lifecycle",
    "orbiteos": "orbiteos.automation.triggers.lifecycle",
}
_REGISTRY: dict[str, TriggerPlatform] = {}


class UnknownPlatform(vol.Invalid):
    """No trigger platform of that name, built in or from an integration."""


def register_platform(name: str, platform: TriggerPlatform) -> None:
    """Register a trigger platform under `name` (tests, plug-ins); wins over lazy lookup."""
    _REGISTRY[name] = platform


def builtin_platforms() -> list[str]:
    return sorted(_BUILTIN)


def get_platform(name: str) -> TriggerPlatform:
    """The platform for `name`; raises UnknownPlatform naming the known ones."""
    found = _REGISTRY.get(name)
    if found is not None:
        return found
    module_name = _BUILTIN.get(name, f"orbiteos.integrations.{name}.trigger")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (module_name == err.name or module_name.startswith(err.name + ".")):
            raise UnknownPlatform(
                f"unknown trigger platform {name!r}; expected one of {', '.join(builtin_platforms() + ['mqtt'])}"
            ) from None
        raise
    if not (hasattr(module, "TRIGGER_SCHEMA") and hasattr(module, "async_attach")):
        raise UnknownPlatform(f"{module_name} is not a trigger platform (needs TRIGGER_SCHEMA and async_attach)")
    platform: TriggerPlatform = module  # type: ignore[assignment]
    _REGISTRY[name] = platform
    return platform


def normalize_trigger(config: Any) -> Any:
    """Accept `trigger: state` as well as `platform: state` (Home Assistant 2024.10 spelling)."""
    if isinstance(config, Mapping) and "platform" not in config and isinstance(config.get("trigger"), str):
        normalized = {k: v for k, v in config.items() if k != "trigger"}
        normalized = {"platform": config["trigger"], **normalized}
        return normalized
    return config


def validate_trigger(config: Any) -> dict[str, Any]:
    """Validate one trigger config with its platform's schema."""
    config = normalize_trigger(config)
    if not isinstance(config, Mapping):
        raise vol.Invalid(f"expected a trigger (a mapping with 'platform' or 'trigger'), found {config!r}")
    if "platform" not in config:
        raise vol.Invalid("a trigger needs 'trigger:' (or 'platform:') naming its platform", path=["trigger"])
    platform = get_platform(str(config["platform"]))
    try:
        validated = platform.TRIGGER_SCHEMA(dict(config))
    except vol.Invalid as err:
        raise hint_unknown_keys(err) from None
    return dict(validated)


def validate_triggers(configs: Any) -> list[dict[str, Any]]:
    """Validate a trigger list; a single trigger becomes a list. Errors carry the list index in the path."""
    return validate_each(configs, validate_trigger)


def _wrap_action(
    hub: Hub, action: TriggerAction, config: Mapping[str, Any], name: str, status: TriggerStatus | None = None
) -> TriggerAction:
    """Add trigger-level `variables:` and own any awaitable the action returns."""
    trigger_vars = config.get("variables")

    def fire(run_variables: dict[str, Any], context: Context | None = None) -> None:
        if trigger_vars:
            # As Home Assistant: rendered with the run variables only (not `trigger_variables`),
            # in order, never replacing a run variable of the same name.
            scope = dict(run_variables)
            try:
                for key, value in trigger_vars.items():
                    if key not in run_variables:
                        scope[key] = render_complex(value, scope, hub)
                run_variables = scope
            except TemplateError as err:
                _LOGGER.error("%s: trigger variables failed: %s", name, err)
                return
        if status is not None:
            status.fired(hub.clock.now())
        result = action(run_variables, context)
        if result is not None and inspect.isawaitable(result):
            hub.create_task(_await(result), name=f"trigger:{name}")

    return fire


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def async_attach_triggers(
    hub: Hub,
    trigger_configs: Sequence[Mapping[str, Any]],
    action: TriggerAction,
    name: str,
    variables: Mapping[str, Any] | None = None,
    *,
    validated: bool = False,
    failures: list[str] | None = None,
    statuses: list[TriggerStatus] | None = None,
    resume: Mapping[int, Mapping[str, tuple[datetime, Any, timedelta]]] | None = None,
) -> Unsubscribe:
    """Attach every enabled trigger of the list; returns one function that detaches them all.

    `action(run_variables, context)` may be a coroutine function; its awaitable is owned by the hub.
    `variables` are the trigger variables the triggers' own templates may use. A trigger that fails
    to attach is logged with `name` (and described in `failures` when given) and the others still attach.
    `statuses`, when given, gets a `TriggerStatus` per trigger of the list, which the platforms keep up
    to date (for `explain`). `resume` hands trigger `index` the `for:` deadlines, by entity id, it was
    waiting for before a restart or reload (automation/durable.py); a platform that keeps them finds
    them in its status's `resume_until`.
    """
    configs = list(trigger_configs) if validated else validate_triggers(list(trigger_configs))
    trigger_variables = dict(variables or {})
    unsubscribes: list[Unsubscribe] = []
    for index, config in enumerate(configs):
        status = None
        if statuses is not None:
            status = TriggerStatus(index, config["platform"], str(config.get("id", index)))
            status.resume_until = dict((resume or {}).get(index, {}))
            statuses.append(status)
        if not _enabled(config.get("enabled", True), trigger_variables, hub):
            if status is not None:
                status.enabled = False
            continue
        trigger_data: TriggerData = {"id": str(config.get("id", index)), "idx": str(index)}
        if config.get("alias"):
            trigger_data["alias"] = config["alias"]
        info: TriggerInfo = {"name": name, "variables": trigger_variables, "trigger_data": trigger_data}
        if status is not None:
            info["status"] = status
        platform = get_platform(config["platform"])
        try:
            unsubscribe = await platform.async_attach(
                hub, dict(config), _wrap_action(hub, action, config, name, status), info
            )
        except Exception as err:
            _LOGGER.error("%s: trigger %d (%s) failed to attach: %s", name, index, config["platform"], err)
            if failures is not None:
                failures.append(f"trigger {index} ({config['platform']}) failed to attach: {err}")
            continue
        if status is not None:
            status.attached = True
        unsubscribes.append(unsubscribe)

    def detach_all() -> None:
        for unsubscribe in unsubscribes:
            try:
                unsubscribe()
            except Exception:
                _LOGGER.exception("%s: detaching a trigger failed", name)
        unsubscribes.clear()

    return detach_all


def _enabled(value: Any, variables: Mapping[str, Any], hub: Hub) -> bool:
    if isinstance(value, str):
        try:
            value = Template(value, hub).render(variables)
        except TemplateError as err:
            _LOGGER.error("trigger 'enabled' template failed: %s", err)
            return False
    if isinstance(value, str):
        return value.strip().lower() in ("true", "on", "yes", "1")
    return bool(value)


# Keys every trigger accepts, for platform schemas to extend.
TRIGGER_BASE: dict[Any, Any] = {
    vol.Required("platform"): str,
    vol.Optional("id"): vol.Coerce(str),
    vol.Optional("alias"): vol.Coerce(str),
    vol.Optional("variables"): dict,
    vol.Optional("enabled"): vol.Any(bool, str),
}
