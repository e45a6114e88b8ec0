"""Automation traces as the recorder stores them in `automation_runs.trace`: compact.

The run's row already has its start, end, automation, entity, run id, result, error and context
id as columns, so the stored trace leaves those out. A step's `timestamp` is left out when it is
the run's start (most runs take no time). A run that did nothing (its conditions failed, or it
finished without error and without any step that acts) is stored in short form:

    {"did_nothing": true, "trigger": {...}, "steps": 3, "last_step": "action/1", "failed": "condition/0"}

with the trigger's plain values (a state's `state` instead of the whole State) and, for failed
conditions, the path of the condition that said no. A demo day has about 30,000 such runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Columns of automation_runs: not repeated inside the trace.
_IN_COLUMNS = frozenset(
    {"run_id", "started", "finished", "entity_id", "automation_id", "result", "error", "trigger_description"}
)
# A step with one of these keys did something (or could have): the run keeps its full trace.
_ACTING = frozenset({"service", "event", "delay", "wait_template", "wait_for_trigger", "stop", "error", "parallel"})
DID_NOTHING = "did_nothing"


def did_nothing(trace: Mapping[str, Any]) -> bool:
    result = trace.get("result")
    if result == "failed_conditions":
        return True
    if result != "finished" or trace.get("error"):
        return False
    return not any(_ACTING & step.keys() for step in trace.get("steps") or ())


def _plain(value: Any) -> Any:
    """A trigger value without its bulk: a State (as JSON) shrinks to its `state`."""
    if isinstance(value, Mapping):
        return value.get("state")
    return value


def compact(trace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The form stored in automation_runs.trace (see the module's docstring)."""
    if trace is None:
        return None
    steps = trace.get("steps") or []
    if did_nothing(trace):
        short: dict[str, Any] = {DID_NOTHING: True}
        trigger = trace.get("trigger")
        if isinstance(trigger, Mapping):
            short["trigger"] = {
                key: _plain(value) for key, value in trigger.items() if key not in ("description", "now")
            }
        short["steps"] = len(steps)
        if steps:
            short["last_step"] = steps[-1].get("path")
        failed = [step.get("path") for step in steps if "condition" in step and step.get("result") is False]
        if failed:
            short["failed"] = failed[-1]
        return short
    started = trace.get("started")
    kept = {key: value for key, value in trace.items() if key not in _IN_COLUMNS and key != "steps"}
    context = kept.pop("context", None)
    if isinstance(context, Mapping) and context.get("parent_id"):
        kept["context_parent_id"] = context["parent_id"]
    kept["steps"] = [
        {key: value for key, value in step.items() if not (key == "timestamp" and value == started)} for step in steps
    ]
    return kept
