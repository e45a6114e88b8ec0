"""`wait_template` and `wait_for_trigger` steps, with `timeout`, `continue_on_timeout` and `wait`.

After the step, the variable `wait` holds `completed` (wait_template) or `trigger` (wait_for_trigger,
None on timeout) and `remaining` (seconds of the timeout left, or None without a timeout).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import voluptuous as vol

from orbiteos.automation import fields
from orbiteos.automation.conditions.template import renders_true
from orbiteos.automation.script.run import Run, StopRun
from orbiteos.automation.script.sequence import STEP_BASE, StepFunc
from orbiteos.automation.trigger import async_attach_triggers, validate_triggers
from orbiteos.automation.triggers.schedule import track_moments
from orbiteos.core import EVENT_STATE_CHANGED, Context, Event, Hub, Unsubscribe
from orbiteos.errors import TemplateError
from orbiteos.template import RenderInfo, Template, result_as_boolean

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


def _next_minute(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + timedelta(minutes=1)


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
        value, info = template.render_tracked(variables)
        if isinstance(value, TemplateError):
            raise value
        if renders_true(value):  # as Home Assistant: the first look is a template condition's
            _finish(run, record, config, {"completed": True, "remaining": timeout_s}, True, variables, path)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        watching: list[Unsubscribe] = []
        started = loop.time()

        def watch(render_info: RenderInfo) -> None:
            for unsubscribe in watching:
                unsubscribe()
            watching.clear()
            if render_info.all_states or render_info.domains:
                watching.append(hub.bus.listen(EVENT_STATE_CHANGED, changed))
            elif render_info.entities:
                watching.append(hub.states.listen(render_info.entities, changed))
            if render_info.uses_time:  # `now()` in the template: look again at each whole minute
                watching.append(track_moments(hub, _next_minute, lambda moment: changed(None)))

        def changed(event: Event | None) -> None:
            if future.done():
                return
            result, render_info = template.render_tracked(variables)
            if isinstance(result, TemplateError):
                future.set_exception(result)
                return
            if result_as_boolean(result):
                future.set_result(True)
                return
            watch(render_info)

        watch(info)
        try:
            completed = await _wait(hub, future, timeout_s)
        finally:
            for unsubscribe in watching:
                unsubscribe()
        if completed:
            future.result()  # re-raises a template error from a re-render
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
