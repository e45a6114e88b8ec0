"""`wait_template` and `wait_for_trigger` steps, with `timeout`, `continue_on_timeout` and `wait`.

After the step, the variable `wait` holds `completed` (wait_template) or `trigger` (wait_for_trigger,
None on timeout) and `remaining` (seconds of the timeout left, or None without a timeout).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import voluptuous as vol

from orbiteos.automation import fields
from orbiteos.automation.conditions.template import renders_true
from orbiteos.automation.script.run import Run, StopRun
from orbiteos.automation.script.sequence import STEP_BASE, StepFunc
from orbiteos.automation.template_tracking import TemplateTracker
from orbiteos.automation.trigger import async_attach_triggers, validate_triggers
from orbiteos.core import Context, Event, Hub
from orbiteos.errors import TemplateError
from orbiteos.template import Template, result_as_boolean

_LOGGER = logging.getLogger(__name__)

_COMMON: dict[Any, Any] = {
    **STEP_BASE,
    vol.Optional("timeout"): fields.period_or_template,
    vol.Optional("continue_on_timeout", default=True): bool,
}
_TEMPLATE_SCHEMA = vol.Schema({**_COMMON, vol.Required("wait_template"): fields.template})
_TRIGGER_SCHEMA = vol.Schema({**_COMMON, vol.Required("wait_for_trigger"): validate_triggers})


def validate(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    schema = _TEMPLATE_SCHEMA if kind == "wait_template" else _TRIGGER_SCHEMA
    validated: dict[str, Any] = schema(config)
    return validated


def build(hub: Hub, kind: str, config: dict[str, Any]) -> StepFunc:
    return _build_template(hub, config) if kind == "wait_template" else _build_trigger(hub, config)


async def _wait(hub: Hub, future: asyncio.Future[Any], timeout_s: float | None) -> bool:
    """Await `future` up to `timeout_s`; True when it completed."""
    if future.done():
        return True
    if timeout_s is None:
        await future
        return True
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.shield(future)
    except TimeoutError:
        return future.done()
    return True


def _timeout(run: Run, config: dict[str, Any], variables: dict[str, Any], hub: Hub) -> float | None:
    if "timeout" not in config:
        return None
    return fields.render_period(config["timeout"], variables, hub).total_seconds()


def _finish(run: Run, record: dict[str, Any] | None, config: dict[str, Any], wait: dict[str, Any],
            completed: bool, variables: dict[str, Any], path: str) -> None:
    variables["wait"] = wait
    if record is not None:
        record["wait"] = dict(wait)
        record["timed_out"] = not completed
    if not completed and not config["continue_on_timeout"]:
        raise StopRun("aborted", message=f"{path}: wait timed out")


def _build_template(hub: Hub, config: dict[str, Any]) -> StepFunc:
    template = Template(config["wait_template"], hub)
    template.ensure_valid()

    async def wait_template(run: Run, variables: dict[str, Any], path: str) -> None:
        timeout_s = _timeout(run, config, variables, hub)
        record = run.step(path, wait_template=template.source, timeout=timeout_s)
        value = template.render(variables)  # a template error here ends the run, as in Home Assistant
        if renders_true(value):  # as Home Assistant: the first look is a template condition's
            _finish(run, record, config, {"completed": True, "remaining": timeout_s}, True, variables, path)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        started = loop.time()

        def changed(event: Event | None, result: Any) -> None:
            # Followed as Home Assistant follows it (rate limits included): a failed re-render is
            # logged and the wait goes on; it ends when the result turns true.
            if isinstance(result, TemplateError):
                _LOGGER.error("%s: %s: wait_template failed: %s", run.name, path, result)
            elif result_as_boolean(result) and not future.done():
                future.set_result(True)

        tracker = TemplateTracker(hub, template, variables, changed)
        first = tracker.start()
        # The tracker's own first render only sets its baseline (Home Assistant does not complete
        # a wait on it): a true-like but not literally true start waits for a change.
        if not isinstance(first, TemplateError) and renders_true(first):
            future.set_result(True)
        try:
            completed = await _wait(hub, future, timeout_s)
        finally:
            tracker.stop()
        remaining = None if timeout_s is None else max(0.0, timeout_s - (loop.time() - started))
        _finish(run, record, config, {"completed": completed, "remaining": remaining}, completed, variables, path)

    return wait_template


def _build_trigger(hub: Hub, config: dict[str, Any]) -> StepFunc:
    triggers = config["wait_for_trigger"]

    async def wait_for_trigger(run: Run, variables: dict[str, Any], path: str) -> None:
        timeout_s = _timeout(run, config, variables, hub)
        record = run.step(path, wait_for_trigger=len(triggers), timeout=timeout_s)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        started = loop.time()

        def fired(trigger_variables: dict[str, Any], context: Context | None) -> None:
            if not future.done():
                future.set_result(trigger_variables.get("trigger", {}))

        detach = await async_attach_triggers(hub, triggers, fired, f"{run.name} wait", variables, validated=True)
        try:
            completed = await _wait(hub, future, timeout_s)
        finally:
            detach()
        remaining = None if timeout_s is None else max(0.0, timeout_s - (loop.time() - started))
        wait = {"remaining": remaining, "trigger": future.result() if completed else None}
        _finish(run, record, config, wait, completed, variables, path)

    return wait_for_trigger
