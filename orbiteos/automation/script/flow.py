"""Steps that steer a run: condition, choose, if/then/else, variables, stop, sequence, parallel.

`set_conversation_response` (Home Assistant's reply to a voice assistant) is accepted so a pasted
automation loads; there is no conversation agent here, so the rendered text only goes to the trace.
"""

from __future__ import annotations

import asyncio
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation import condition as conditions
from orbiteos.automation.fields import template, template_complex
from orbiteos.automation.script.run import Run, StopRun
from orbiteos.automation.script.sequence import STEP_BASE, StepFunc, compile_sequence, validate_actions, validate_step
from orbiteos.core import Hub
from orbiteos.template import Template, compile_complex, render_complex

_CHOOSE = vol.Schema(
    {
        **STEP_BASE,
        vol.Required("choose"): vol.All(
            cv.ensure_list,
            [
                {
                    vol.Optional("alias"): vol.Coerce(str),
                    vol.Required("conditions"): conditions.validate_conditions,
                    vol.Required("sequence"): validate_actions,
                }
            ],
        ),
        vol.Optional("default"): validate_actions,
    }
)
_IF = vol.Schema(
    {
        **STEP_BASE,
        vol.Required("if"): conditions.validate_conditions,
        vol.Required("then"): validate_actions,
        vol.Optional("else"): validate_actions,
    }
)
_VARIABLES = vol.Schema({**STEP_BASE, vol.Required("variables"): vol.All(dict, template_complex)})
_STOP = vol.Schema(
    {
        **STEP_BASE,
        vol.Required("stop"): vol.Any(cv.string, None),
        vol.Optional("error", default=False): cv.boolean,
        vol.Optional("response_variable"): cv.string,
    }
)
_SEQUENCE = vol.Schema({**STEP_BASE, vol.Required("sequence"): validate_actions})
_CONVERSATION = vol.Schema({**STEP_BASE, vol.Required("set_conversation_response"): vol.Any(None, template)})


def _parallel_branch(value: Any) -> dict[str, Any]:
    # A branch is one step; a list is a sequence.
    if isinstance(value, list):
        value = {"sequence": value}
    return validate_step(value)


_PARALLEL = vol.Schema({**STEP_BASE, vol.Required("parallel"): vol.All(cv.ensure_list, [_parallel_branch])})
_STEP_KEYS = ("alias", "enabled", "continue_on_error")


def validate(kind: str, config: Any) -> dict[str, Any]:
    if kind == "condition":
        plain = {k: v for k, v in config.items() if k not in ("continue_on_error",)} \
            if isinstance(config, dict) else config
        validated = conditions.validate_condition(plain)
        if isinstance(config, dict) and "continue_on_error" in config:
            validated["continue_on_error"] = bool(config["continue_on_error"])
        return validated
    schema = {"choose": _CHOOSE, "if": _IF, "variables": _VARIABLES, "stop": _STOP,
              "sequence": _SEQUENCE, "parallel": _PARALLEL, "set_conversation_response": _CONVERSATION}[kind]
    validated_step: dict[str, Any] = schema(config)
    return validated_step


def build(hub: Hub, kind: str, config: dict[str, Any]) -> StepFunc:
    builder = {"condition": _condition, "choose": _choose, "if": _if, "variables": _variables, "stop": _stop,
               "sequence": _sequence, "parallel": _parallel, "set_conversation_response": _conversation}[kind]
    return builder(hub, config)


def _condition(hub: Hub, config: dict[str, Any]) -> StepFunc:
    plain = {k: v for k, v in config.items() if k not in ("__kind__", "continue_on_error", "enabled")}
    check = conditions.compile_condition(hub, plain)

    async def condition_step(run: Run, variables: dict[str, Any], path: str) -> None:
        try:
            passed = check(variables, run.trace, path) is not False
        except conditions.ConditionError as err:
            run.logger.warning("%s: %s: condition could not be judged, taken as false: %s", run.name, path, err)
            passed = False
        if not passed:
            raise StopRun("aborted", message=f"{path}: condition is false")

    return condition_step


def _choose(hub: Hub, config: dict[str, Any]) -> StepFunc:
    options = [
        (conditions.compile_conditions(hub, option["conditions"]), compile_sequence(hub, option["sequence"]))
        for option in config["choose"]
    ]
    default = compile_sequence(hub, config["default"]) if config.get("default") else None

    async def choose(run: Run, variables: dict[str, Any], path: str) -> None:
        record = run.step(path, choice=None)
        for index, (checks, sequence) in enumerate(options):
            if conditions.all_pass(checks, variables, run.trace, f"{path}/choose/{index}/conditions", run.name):
                if record is not None:
                    record["choice"] = index
                await sequence.run(run, dict(variables), f"{path}/choose/{index}/sequence")
                return
        if default is not None:
            if record is not None:
                record["choice"] = "default"
            await default.run(run, dict(variables), f"{path}/default")

    return choose


def _if(hub: Hub, config: dict[str, Any]) -> StepFunc:
    checks = conditions.compile_conditions(hub, config["if"])
    then = compile_sequence(hub, config["then"])
    otherwise = compile_sequence(hub, config["else"]) if config.get("else") else None

    async def if_step(run: Run, variables: dict[str, Any], path: str) -> None:
        result = conditions.all_pass(checks, variables, run.trace, f"{path}/if", run.name)
        run.step(path, choice="then" if result else "else")
        if result:
            await then.run(run, dict(variables), f"{path}/then")
        elif otherwise is not None:
            await otherwise.run(run, dict(variables), f"{path}/else")

    return if_step


def _variables(hub: Hub, config: dict[str, Any]) -> StepFunc:
    compiled = compile_complex(config["variables"], hub)

    async def variables_step(run: Run, variables: dict[str, Any], path: str) -> None:
        rendered: dict[str, Any] = {}
        for name, value in compiled.items():
            rendered[name] = variables[name] = render_complex(value, variables, hub)
        run.step(path, variables=rendered)

    return variables_step


def _stop(hub: Hub, config: dict[str, Any]) -> StepFunc:
    message = config["stop"] or ""
    is_error = config["error"]

    async def stop(run: Run, variables: dict[str, Any], path: str) -> None:
        run.step(path, stop=message, error=is_error)
        if is_error:
            raise StopRun("error", message=message, error=message or "stopped with an error")
        raise StopRun("stopped", message=message)

    return stop


def _sequence(hub: Hub, config: dict[str, Any]) -> StepFunc:
    sequence = compile_sequence(hub, config["sequence"])

    async def sequence_step(run: Run, variables: dict[str, Any], path: str) -> None:
        await sequence.run(run, variables, f"{path}/sequence")

    return sequence_step


def _conversation(hub: Hub, config: dict[str, Any]) -> StepFunc:
    source = config["set_conversation_response"]
    response = Template(source, hub) if source is not None else None

    async def conversation_step(run: Run, variables: dict[str, Any], path: str) -> None:
        run.step(path, conversation_response=response.render_str(variables) if response is not None else None)

    return conversation_step


def _parallel(hub: Hub, config: dict[str, Any]) -> StepFunc:
    branches = [compile_sequence(hub, [branch]) for branch in config["parallel"]]

    async def parallel(run: Run, variables: dict[str, Any], path: str) -> None:
        run.step(path, parallel=len(branches))
        # As Home Assistant: every branch runs to its end, whatever the others do (a `stop` or an
        # error in one branch does not cancel its siblings); then the first branch's failure, in
        # branch order, ends the sequence the `parallel` is in.
        results = await asyncio.gather(
            *(branch.run(run, dict(variables), f"{path}/parallel/{index}") for index, branch in enumerate(branches)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                raise result

    return parallel
