"""A sequence of steps: validation by kind, compilation, and running with `enabled`/`continue_on_error`."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import voluptuous as vol

from orbiteos.automation.fields import hint_unknown_keys
from orbiteos.automation.script.run import Run, StopRun
from orbiteos.core import Hub
from orbiteos.errors import OrbitEOSError, ServiceNotFound, ServiceValidationError, TemplateError
from orbiteos.template import Template, render_bool
from orbiteos.validation import validate_each

# Errors that `continue_on_error` does not cover, as in Home Assistant.
_NOT_CONTINUABLE = (TemplateError, ServiceNotFound, ServiceValidationError)

StepFunc = Callable[[Run, dict[str, Any], str], Awaitable[None]]

# Key that names a step -> module in orbiteos.automation.script. Order matters: Home Assistant's.
STEP_KINDS: dict[str, str] = {
    "delay": "delay",
    "wait_template": "wait",
    "wait_for_trigger": "wait",
    "event": "event",
    "condition": "flow",
    "choose": "flow",
    "if": "flow",
    "repeat": "repeat",
    "variables": "flow",
    "stop": "flow",
    "parallel": "flow",
    "sequence": "flow",
    "service": "service",
    "action": "service",
    "service_template": "service",  # the pre-2021 spelling, still accepted by Home Assistant 2024.3
    "scene": "service",
    "set_conversation_response": "flow",
}
STEP_BASE: dict[Any, Any] = {
    vol.Optional("alias"): vol.Coerce(str),
    vol.Optional("enabled"): vol.Any(bool, str),
    vol.Optional("continue_on_error"): bool,
}


def step_kind(config: Any) -> str:
    """The key that says what a step is; raises vol.Invalid for something that is no step."""
    if isinstance(config, str):
        return "condition"  # a template shorthand condition
    if not isinstance(config, Mapping):
        raise vol.Invalid(f"expected an action (a mapping), found {config!r}")
    for key in STEP_KINDS:
        if key in config:
            if key == "action" and not isinstance(config[key], str):
                continue
            return key
    if any(key in config for key in ("and", "or", "not")):
        return "condition"
    found = ", ".join(map(str, config)) or "nothing"
    raise vol.Invalid(
        f"unknown action: expected a mapping with one of {', '.join(STEP_KINDS)}; found keys {found}"
    )


def _module(kind: str) -> Any:
    return importlib.import_module(f"orbiteos.automation.script.{STEP_KINDS[kind]}")


def validate_step(config: Any) -> dict[str, Any]:
    kind = step_kind(config)
    try:
        validated = dict(_module(kind).validate(kind, config))
    except vol.Invalid as err:
        raise hint_unknown_keys(err) from None
    validated["__kind__"] = kind
    return validated


def validate_actions(configs: Any) -> list[dict[str, Any]]:
    """Validate an action list (a single action becomes a list); errors carry the index in the path."""
    if configs is None:
        return []
    return validate_each(configs, validate_step)


# The path prefix of an automation's own action list (nested sequences have longer ones).
TOP_LEVEL = "action"


class Sequence:
    """Compiled steps, run one after the other."""

    __slots__ = ("steps",)

    def __init__(self, steps: list[StepFunc]) -> None:
        self.steps = steps

    async def run(self, run: Run, variables: dict[str, Any], prefix: str, start: int = 0) -> None:
        """Run the steps from `start` (a resumed run starts after the step it was in)."""
        task = asyncio.current_task()
        top_level = prefix == TOP_LEVEL
        for index in range(start, len(self.steps)):
            if task is not None and task.cancelling():
                # A step that never suspended (a sync service handler) may have asked to stop this run.
                raise asyncio.CancelledError
            if top_level:
                run.top_step = index
            await self.steps[index](run, variables, f"{prefix}/{index}")

    def __len__(self) -> int:
        return len(self.steps)


def compile_sequence(hub: Hub, configs: list[dict[str, Any]]) -> Sequence:
    return Sequence([compile_step(hub, config) for config in configs])


def compile_step(hub: Hub, config: dict[str, Any]) -> StepFunc:
    kind = config.get("__kind__") or step_kind(config)
    body: StepFunc = _module(kind).build(hub, kind, config)
    enabled = config.get("enabled", True)
    continue_on_error = config.get("continue_on_error", False)
    if enabled is True and not continue_on_error:
        return body
    flag = Template(enabled, hub) if isinstance(enabled, str) else None

    async def guarded(run: Run, variables: dict[str, Any], path: str) -> None:
        if enabled is False or (flag is not None and not render_bool(flag, variables)):
            run.step(path, enabled=False)
            return
        if not continue_on_error:
            await body(run, variables, path)
            return
        try:
            await body(run, variables, path)
        except StopRun:
            raise
        except _NOT_CONTINUABLE:
            raise  # a mistake in the automation, not a run-time failure (Home Assistant's rule)
        except OrbitEOSError as err:
            run.step(path, error=str(err), continued=True)
            run.logger.warning("%s: %s failed, continuing (continue_on_error): %s", run.name, path, err)

    return guarded
