"""`repeat` step: `count`, `while`, `until` or `for_each`, with `repeat.index/first/last/item`."""

from __future__ import annotations

import asyncio
from typing import Any

import voluptuous as vol

from orbiteos.automation import condition as conditions
from orbiteos.automation import fields
from orbiteos.automation.script.run import Run
from orbiteos.automation.script.sequence import STEP_BASE, StepFunc, compile_sequence, validate_actions
from orbiteos.core import Hub
from orbiteos.errors import TemplateError
from orbiteos.template import compile_complex, render_complex


def _exactly_one_loop(value: dict[str, Any]) -> dict[str, Any]:
    if sum(key in value for key in ("count", "while", "until", "for_each")) != 1:
        raise vol.Invalid("expected exactly one of count, while, until, for_each")
    return value


_REPEAT = vol.All(
    {
        vol.Optional("count"): vol.Any(vol.All(vol.Coerce(int), vol.Range(min=0)), fields.dynamic_template),
        vol.Optional("while"): conditions.validate_conditions,
        vol.Optional("until"): conditions.validate_conditions,
        vol.Optional("for_each"): vol.Any(fields.dynamic_template, vol.All(list, fields.template_complex)),
        vol.Required("sequence"): validate_actions,
    },
    _exactly_one_loop,
)
_SCHEMA = vol.Schema({**STEP_BASE, vol.Required("repeat"): _REPEAT})


def validate(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    validated: dict[str, Any] = _SCHEMA(config)
    return validated


def build(hub: Hub, kind: str, config: dict[str, Any]) -> StepFunc:
    repeat = config["repeat"]
    sequence = compile_sequence(hub, repeat["sequence"])
    while_checks = conditions.compile_conditions(hub, repeat["while"]) if "while" in repeat else None
    until_checks = conditions.compile_conditions(hub, repeat["until"]) if "until" in repeat else None
    count_config = repeat.get("count")
    items_config = compile_complex(repeat["for_each"], hub) if "for_each" in repeat else None

    async def iteration(run: Run, variables: dict[str, Any], path: str, repeat_vars: dict[str, Any]) -> None:
        scope = {**variables, "repeat": repeat_vars}
        await sequence.run(run, scope, f"{path}/repeat/sequence")
        await asyncio.sleep(0)  # a tight loop must not starve the engine

    async def repeat_step(run: Run, variables: dict[str, Any], path: str) -> None:
        record = run.step(path, iterations=0)
        done = 0
        if count_config is not None or items_config is not None:
            if items_config is not None:
                items = render_complex(items_config, variables, hub)
                if not isinstance(items, list):
                    raise TemplateError(f"repeat.for_each: expected a list, got {items!r}")
            else:
                count = render_complex(count_config, variables, hub)
                try:
                    items = list(range(int(count)))
                except (TypeError, ValueError):
                    raise TemplateError(f"repeat.count: expected a whole number, got {count!r}") from None
            for index, item in enumerate(items, start=1):
                repeat_vars = {"index": index, "first": index == 1, "last": index == len(items)}
                if items_config is not None:
                    repeat_vars["item"] = item
                await iteration(run, variables, path, repeat_vars)
                done = index
        else:
            index = 0
            while True:
                index += 1
                repeat_vars = {"index": index, "first": index == 1}
                scope = {**variables, "repeat": repeat_vars}
                if while_checks is not None and not conditions.all_pass(
                    while_checks, scope, run.trace, f"{path}/repeat/while", run.name
                ):
                    break
                await iteration(run, variables, path, repeat_vars)
                done = index
                if until_checks is not None and conditions.all_pass(
                    until_checks, scope, run.trace, f"{path}/repeat/until", run.name
                ):
                    break
        if record is not None:
            record["iterations"] = done

    return repeat_step
