"""What a simulation did: every service call (with the automation that made it) and every
automation run, collected from the bus as the simulation runs.

Every moment is given as `time`, in the site's time zone with its offset (what the site's clocks
showed, daylight saving included), and `time_utc`, the same moment in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from orbiteos.automation.trace import TraceView
from orbiteos.core import EVENT_CALL_SERVICE, Context, Event, Hub, State, Unsubscribe

EVENT_AUTOMATION_TRIGGERED = "automation_triggered"
EVENT_AUTOMATION_RUN_FINISHED = "automation_run_finished"


def jsonable(value: Any) -> Any:
    """Service data, traces and the like as plain JSON values."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, State | Event | Context):
        return jsonable(value.as_dict())
    return str(value)


def moment_fields(moment: datetime, tz: tzinfo) -> dict[str, str]:
    """`time` at the site (with its offset) and `time_utc` for one moment."""
    return {"time": moment.astimezone(tz).isoformat(), "time_utc": moment.astimezone(UTC).isoformat()}


class ReportCollector:
    """Listens for service calls and automation runs; `service_calls` and `automation_runs` as
    the report's JSON lists."""

    def __init__(self, hub: Hub, start: datetime) -> None:
        self.hub = hub
        self.start = start
        self.service_calls: list[dict[str, Any]] = []
        self.automation_runs: list[dict[str, Any]] = []
        # run context id -> automation entity id, from `automation_triggered`.
        self._runs: dict[str, str] = {}
        self._unsubscribe: list[Unsubscribe] = [
            hub.bus.listen(EVENT_AUTOMATION_TRIGGERED, self._on_triggered),
            hub.bus.listen(EVENT_CALL_SERVICE, self._on_call),
            hub.bus.listen(EVENT_AUTOMATION_RUN_FINISHED, self._on_run_finished),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def _offset(self, moment: datetime) -> float:
        return round((moment - self.start).total_seconds(), 3)

    def _on_triggered(self, event: Event) -> None:
        automation = event.data.get("entity_id") or event.data.get("name")
        if automation:
            self._runs[event.context.id] = str(automation)

    def automation_of(self, context: Context) -> str | None:
        """The automation whose run made a call in `context` (its own context or a child of it)."""
        return self._runs.get(context.id) or (self._runs.get(context.parent_id) if context.parent_id else None)

    def _on_call(self, event: Event) -> None:
        data = event.data
        self.service_calls.append(
            {
                **moment_fields(event.time_fired, self.hub.config.tzinfo),
                "offset": self._offset(event.time_fired),
                "domain": data.get("domain"),
                "service": data.get("service"),
                "data": jsonable(data.get("service_data") or {}),
                "handled": bool(data.get("handled", True)),
                "automation": self.automation_of(event.context),
                "context": event.context.as_dict(),
            }
        )

    def _on_run_finished(self, event: Event) -> None:
        data = event.data
        trace = data.get("trace")
        started = trace.raw_started if isinstance(trace, TraceView) else data.get("started")
        moment = started if isinstance(started, datetime) else event.time_fired
        if isinstance(started, str):
            try:
                moment = datetime.fromisoformat(started)
            except ValueError:
                moment = event.time_fired
        automation = data.get("entity_id") or data.get("automation_id") or self.automation_of(event.context)
        # An automation's TraceView hands out its trigger as it was, without building the trace.
        trigger = data.get("trigger") or getattr(trace, "raw_trigger", None)
        if trigger is None and isinstance(trace, Mapping):
            trigger = trace.get("trigger")
        self.automation_runs.append(
            {
                "automation": automation,
                **moment_fields(moment, self.hub.config.tzinfo),
                "offset": self._offset(moment),
                "trigger": _trigger_summary(trigger),
                "result": jsonable(data.get("result")),
                "error": jsonable(data.get("error")),
            }
        )


_TRIGGER_KEYS = ("platform", "id", "idx", "alias", "description", "entity_id", "event_type", "for")


def _trigger_summary(trigger: Any) -> Any:
    """What fired, without the whole states it carries: platform, id, description, entity, and
    the from/to state values."""
    if not isinstance(trigger, Mapping):
        return jsonable(trigger)
    summary = {}
    for key in _TRIGGER_KEYS:
        value = trigger.get(key)
        if value is not None:
            summary[key] = jsonable(value)
    for key in ("from_state", "to_state"):
        state = trigger.get(key)
        if isinstance(state, State):
            summary[key] = state.state
        elif isinstance(state, Mapping) and "state" in state:
            summary[key] = state["state"]
    event = trigger.get("event")
    if isinstance(event, Event):
        summary["event_type"] = event.event_type
    return summary


def build_report(
    start: datetime, end: datetime, collector: ReportCollector, kpis: Mapping[str, Any], **extra: Any
) -> dict[str, Any]:
    """The report JSON, in the shape the simulate docs promise."""
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        **{k: jsonable(v) for k, v in extra.items()},
        "service_calls": collector.service_calls,
        "automation_runs": collector.automation_runs,
        "kpis": dict(kpis),
    }


def kpi_difference(with_automations: Mapping[str, Any], without: Mapping[str, Any]) -> dict[str, Any]:
    """with minus without, for every numeric KPI both runs have."""
    difference: dict[str, Any] = {}
    for key, value in with_automations.items():
        other = without.get(key)
        if isinstance(value, int | float) and isinstance(other, int | float) and not isinstance(value, bool):
            difference[key] = round(value - other, 4)
    return difference
