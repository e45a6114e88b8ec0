"""`explain`: why an automation did or did not fire, from its triggers' status and its last runs.

`explain(automation, at)` gives a JSON-able report: for each trigger what it watches, per entity
the last value it judged, whether it is armed, a pending `for:` with the time left, and why it last
refused (not crossing, not re-armed, inside the hysteresis band, not a number); then the last run
and the last refused run with the conditions that were false and the values they read (or the
mode that refused it). `lines(report)` is the same in words, for the CLI and the UI.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from orbiteos.automation.status import EntityStatus, TriggerStatus
from orbiteos.automation.trace import to_jsonable

if TYPE_CHECKING:
    from orbiteos.automation.automation import Automation

_REFUSED = {"failed_conditions", "failed_single", "failed_max_runs"}
_MODE_REFUSALS = {
    "failed_single": "mode single: a run was already in progress",
    "failed_max_runs": "mode {mode}: the maximum number of runs ({max}) was reached",
}
# Details a condition step records that say what it read (see orbiteos/automation/conditions/).
_READ_KEYS = (
    "value",
    "state",
    "wanted",
    "above",
    "below",
    "rendered",
    "id",
    "now",
    "after",
    "before",
    "weekday",
    "error",
)


def explain(automation: Automation, at: datetime | None = None) -> dict[str, Any]:
    """The report for `automation` as of `at` (default: the hub's clock now)."""
    now = (at or automation.hub.clock.now()).astimezone(automation.hub.config.tzinfo)
    traces = automation.traces()
    last_run = traces[-1] if traces else None
    refused = next((t for t in reversed(traces) if t.get("result") in _REFUSED), None)
    report: dict[str, Any] = {
        "automation_id": automation.automation_id,
        "entity_id": automation.entity_id,
        "alias": automation.alias,
        "at": now.isoformat(),
        "enabled": automation.enabled,
        "mode": automation.mode,
        "current": automation.current,
        "last_triggered": _local(automation.last_triggered, now),
        "triggers": [_trigger(status, now) for status in automation.trigger_statuses],
        "last_run": _run(last_run, automation, now) if last_run else None,
        "last_refused": _run(refused, automation, now) if refused else None,
    }
    report["summary"] = lines(report)
    return report


def _local(moment: datetime | None, now: datetime) -> str | None:
    """ISO 8601 in the site's time zone (that of `now`)."""
    return moment.astimezone(now.tzinfo).isoformat() if moment is not None else None


def _trigger(status: TriggerStatus, now: datetime) -> dict[str, Any]:
    return {
        "index": status.index,
        "id": status.trigger_id,
        "platform": status.platform,
        "enabled": status.enabled,
        "attached": status.attached,
        "watching": status.watching or None,
        "last_fired": _local(status.last_fired, now),
        "next_due": _local(status.next_due, now),
        "entities": {entity_id: _entity(entry, now) for entity_id, entry in status.entities.items()},
    }


def _entity(entry: EntityStatus, now: datetime) -> dict[str, Any]:
    pending = None
    if entry.pending_until is not None:
        pending = {
            "until": _local(entry.pending_until, now),
            "remaining_s": max(0.0, (entry.pending_until - now).total_seconds()),
        }
    return {
        "value": to_jsonable(entry.value),
        "seen": _local(entry.seen, now),
        "armed": entry.armed,
        "pending_for": pending,
        "last_refusal": entry.refused,
        "last_refusal_at": _local(entry.refused_at, now),
    }


def _local_text(text: Any, now: datetime) -> Any:
    """An ISO 8601 text from a trace, in the site's time zone."""
    try:
        return _local(datetime.fromisoformat(text), now)
    except (TypeError, ValueError):
        return text


def _run(trace: dict[str, Any], automation: Automation, now: datetime) -> dict[str, Any]:
    result = trace.get("result")
    run: dict[str, Any] = {
        "run_id": trace.get("run_id"),
        "started": _local_text(trace.get("started"), now),
        "result": result,
        "error": trace.get("error"),
        "trigger": trace.get("trigger_description"),
    }
    if result == "failed_conditions":
        run["false_conditions"] = [
            {
                "path": step["path"],
                **{key: step[key] for key in _READ_KEYS if key in step},
                **({"condition": step["condition"]} if "condition" in step else {}),
            }
            for step in trace.get("steps", [])
            if str(step.get("path", "")).startswith("condition")
            and step.get("result") in (False, None)
            and step.get("enabled", True) is not False
        ]
    elif result in _MODE_REFUSALS:
        run["why"] = _MODE_REFUSALS[result].format(mode=automation.mode, max=automation.max)
    return run


def lines(report: dict[str, Any]) -> list[str]:
    """The report in words, one finding a line."""
    out: list[str] = []
    if not report["enabled"]:
        out.append(
            "the automation is off: its triggers are not attached and nothing can start it but automation.trigger"
        )
    for trigger in report["triggers"]:
        head = f"trigger {trigger['index']} ({trigger['platform']}, id {trigger['id']})"
        if not trigger["enabled"]:
            out.append(f"{head}: disabled (enabled: false)")
            continue
        watching = f" watches {trigger['watching']}" if trigger["watching"] else ""
        fired = f"; last fired {trigger['last_fired']}" if trigger["last_fired"] else "; has not fired"
        if trigger["next_due"]:
            fired += f"; next due {trigger['next_due']}"
        if not trigger["attached"]:
            why = "the automation is off" if not report["enabled"] else "it failed to attach: see the log"
            out.append(f"{head}: not attached ({why}){watching}{fired}")
        else:
            out.append(f"{head}{watching}{fired}")
        for entity_id, entry in trigger["entities"].items():
            armed = {True: "armed", False: "not armed", None: "arming unknown"}[entry["armed"]]
            text = f"  {entity_id}: last value {entry['value']!r} at {entry['seen']}, {armed}"
            if entry["pending_for"]:
                text += f"; 'for' pending, {entry['pending_for']['remaining_s']:g} s to go"
            if entry["last_refusal"]:
                text += f"; last refused at {entry['last_refusal_at']}: {entry['last_refusal']}"
            out.append(text)
    refused = report["last_refused"]
    if refused:
        if refused["result"] == "failed_conditions":
            for condition in refused.get("false_conditions", []):
                read = ", ".join(f"{k}={v!r}" for k, v in condition.items() if k not in ("path", "condition"))
                kind = condition.get("condition", "condition")
                out.append(
                    f"last refused run {refused['started']} ({refused['trigger']}): {condition['path']} "
                    f"({kind}) was false: {read}"
                )
        else:
            out.append(f"last refused run {refused['started']} ({refused['trigger']}): {refused.get('why')}")
    last = report["last_run"]
    if last and last.get("result") not in _REFUSED:
        error = f": {last['error']}" if last.get("error") else ""
        out.append(f"last run {last['started']} ({last['trigger']}): {last['result'] or 'still running'}{error}")
    if not report["triggers"] and report["enabled"]:
        out.append("no trigger status (the automation has not been attached)")
    return out
