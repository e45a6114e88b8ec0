"""An automation: its entity, its triggers, its run modes, and the bookkeeping of each run.

A trigger only schedules a task; the task renders the automation's variables, checks the
conditions, fires `automation_triggered`, applies the mode and runs the actions (Home Assistant's
order, so conditions see every state written in the same tick).

Contexts: a run's context is `Context(parent_id=<trigger context id>)`. The
`automation_triggered` event, every service call and every event the run makes carry that same
context (same id), so a service call maps back to its automation through the event's context id
and to the triggering state change through `parent_id`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from orbiteos.automation.breaker import Breaker
from orbiteos.automation.condition import all_pass, compile_conditions
from orbiteos.automation.durable import (
    INTERRUPTED,
    KIND_FOR,
    fingerprint,
    for_deadline,
    pending_entry,
    pending_for_entries,
)
from orbiteos.automation.script import Run, StopRun, compile_sequence
from orbiteos.automation.status import TriggerStatus
from orbiteos.automation.trace import Trace, TraceStore, TraceView
from orbiteos.automation.trigger import async_attach_triggers
from orbiteos.core import Context, Hub, Unsubscribe
from orbiteos.errors import OrbitEOSError
from orbiteos.limits import FixedWindow
from orbiteos.natures.source import CURRENT_SOURCE, SetpointSource
from orbiteos.template import Template, compile_complex, copy_plain, has_templates, render_complex, template_names

_LOGGER = logging.getLogger("orbiteos.automation")

EVENT_AUTOMATION_TRIGGERED = "automation_triggered"
EVENT_AUTOMATION_RUN_FINISHED = "automation_run_finished"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
           "critical": logging.CRITICAL}


class Automation:
    """One configured automation and its entity `automation.<slug of its name>` (the manager names it)."""

    def __init__(self, hub: Hub, config: dict[str, Any], entity_id: str, traces: TraceStore,
                 name: str | None = None, breaker: Breaker | None = None) -> None:
        self.hub = hub
        self.config = config
        self.entity_id = entity_id
        # The unique id (traces, logs, the API): `id:`, else the entity's object id.
        self.automation_id: str = str(config.get("id") or entity_id.partition(".")[2])
        self.alias: str = name or config.get("alias") or self.automation_id
        self.mode: str = config["mode"]
        self.max: int = config["max"]
        self.enabled: bool = config.get("initial_state", True)
        # Every setpoint a run writes carries this source (orbiteos.natures).
        self.setpoint_source = SetpointSource(entity_id, float(config.get("priority", 0)))
        self.last_triggered: datetime | None = None
        self._max_exceeded = config["max_exceeded"]
        self._traces = traces
        traces.configure(self.automation_id, config["trace"]["stored_traces"])
        self._conditions = compile_conditions(hub, config["conditions"])
        self._sequence = compile_sequence(hub, config["actions"])
        # As Home Assistant: each run renders `trigger_variables` again, then `variables` (a name in
        # both keeps the trigger variable's place and takes the automation variable's value).
        self._variables = compile_complex(
            {**(config.get("trigger_variables") or {}), **(config.get("variables") or {})}, hub
        )
        # (name, value, whether it holds a template): the rest is only copied for each run.
        self._variable_plan = [
            (name, value, isinstance(value, Template) or has_templates(value))
            for name, value in self._variables.items()
        ]
        # `this` is built for a run only when some template of the automation names it.
        self._reads_this = "this" in template_names(config)
        # Conditions that read none of the automation's variables are checked before those are
        # rendered: the outcome is the same, and a run the conditions stop costs no rendering.
        self._conditions_first = not (template_names(config["conditions"]) & set(self._variables))
        self._trigger_variables = config.get("trigger_variables") or {}
        self._detach: Unsubscribe | None = None
        # What each trigger last saw and decided, for `explain` (filled while attached).
        self.trigger_statuses: list[TriggerStatus] = []
        self._runs: list[asyncio.Task[Any]] = []
        # Each running run's position and trace, for durable timers (automation/durable.py).
        self._live: dict[asyncio.Task[Any], tuple[Run, Trace]] = {}
        self.fingerprint = fingerprint(config)
        self._resume_for: dict[int, dict[str, tuple[datetime, Any, timedelta]]] = {}
        self._queue_lock: asyncio.Lock | None = None
        self._queued = 0
        self._last_refusal: str | None = None
        # Runaway protection (automation/breaker.py): triggers counted per window, runs started by
        # triggers and not yet ended bounded, and why the breaker turned the automation off.
        self._breaker = breaker
        self._window = FixedWindow()
        self.triggers_in_window = 0
        self._started = 0
        running = self.max if self.mode in ("queued", "parallel") else 1
        self._max_started = running + hub.config.limits.automation_max_pending
        self._dropped = 0
        self.off_reason: str | None = None

    # --- what the outside sees -------------------------------------------------------------
    @property
    def current(self) -> int:
        """Runs in progress (and, in queued mode, waiting)."""
        return len(self._runs) + self._queued

    def traces(self) -> list[dict[str, Any]]:
        return self._traces.traces(self.automation_id)

    def attributes(self) -> dict[str, Any]:
        return {
            **({"id": str(self.config["id"])} if self.config.get("id") else {}),  # as Home Assistant: only a given id
            "friendly_name": self.alias,
            # A datetime, as Home Assistant's (so `now() - this.attributes.last_triggered` works);
            # JSON surfaces write it as ISO 8601.
            "last_triggered": self.last_triggered,
            "mode": self.mode,
            "current": self.current,
            **({"max": self.max} if self.mode in ("queued", "parallel") else {}),
            **({"off_reason": self.off_reason} if self.off_reason else {}),
        }

    def write_state(self, context: Context | None = None) -> None:
        """Write the entity; a run's own writes carry the run's context (as Home Assistant's do)."""
        self.hub.states.set(self.entity_id, "on" if self.enabled else "off", self.attributes(), context=context)

    # --- life cycle ------------------------------------------------------------------------
    async def attach(self) -> None:
        if self._detach is not None:
            return
        # As Home Assistant: the entity is written first, so `this` is its state; a template error
        # in trigger_variables leaves the automation without triggers (logged), the others run.
        self.write_state()
        own_state = self.hub.states.get(self.entity_id)
        variables: dict[str, Any] = {"this": own_state.as_dict() if own_state else None}
        try:
            for name, value in self._trigger_variables.items():  # in order, each seeing the ones before
                variables[name] = render_complex(value, variables, self.hub)
        except OrbitEOSError as err:
            _LOGGER.error("%s: trigger_variables failed, its triggers are not attached: %s", self.automation_id, err)
            return
        self.trigger_statuses = []
        self._detach = await async_attach_triggers(
            self.hub, self.config["triggers"], self._on_trigger, self.automation_id, variables, validated=True,
            statuses=self.trigger_statuses, resume=self._resume_for,
        )
        self._resume_for = {}

    def detach(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None
            for status in self.trigger_statuses:  # what they last saw stays, for `explain`
                status.attached = False

    async def turn_on(self) -> None:
        self.off_reason = None
        if not self.enabled:
            self.enabled = True
            await self.attach()
        self.write_state()

    async def turn_off(self, stop_actions: bool = True) -> None:
        self.enabled = False
        self.detach()
        self.write_state()
        if stop_actions:
            await self.stop_runs()

    async def stop_runs(self) -> None:
        """Cancel every run; wait for them, except the calling run itself (it ends at its next await)."""
        current = asyncio.current_task()
        for task in self._runs:
            task.cancel()
        others = [task for task in self._runs if task is not current]
        if others:
            await asyncio.wait(others)

    async def trigger(self, variables: Mapping[str, Any] | None = None, skip_condition: bool = True,
                      context: Context | None = None) -> None:
        """Run now (the `automation.trigger` service); returns when the run has ended."""
        # As Home Assistant: `trigger` is `{platform: None}` and the caller's variables cannot replace it.
        run_variables = {**(variables or {}), "trigger": {"platform": None}}
        # The run gets its own task: a restart or turn_off cancels the run, never the caller.
        task = self.hub.create_task(self._handle(run_variables, context, skip_condition),
                                    name=f"automation:{self.automation_id}")
        await asyncio.wait({task})

    # --- a trigger fired -------------------------------------------------------------------
    def _on_trigger(self, run_variables: dict[str, Any], context: Context | None) -> None:
        if not self.enabled:
            return
        if self._breaker is not None:
            tripped = self._breaker.count(self, self._window)
            if tripped is not None:
                tripped[0].trip(tripped[1])
                if not self.enabled:
                    return
        if self._started >= self._max_started:
            # Runs pile up faster than they end: refused here, before a task or a trace is made.
            self._dropped += 1
            if self._dropped == 1:
                _LOGGER.warning("%s: %d runs started and not ended; further triggers dropped until one ends",
                                self.automation_id, self._started)
            return
        self._started += 1
        self.hub.create_task(self._triggered(run_variables, context), name=f"automation:{self.automation_id}")

    async def _triggered(self, run_variables: dict[str, Any], context: Context | None) -> None:
        try:
            await self._handle(run_variables, context, False)
        finally:
            self._started -= 1
            if self._dropped and self._started == 0:
                _LOGGER.warning("%s: %d trigger(s) dropped while runs piled up", self.automation_id, self._dropped)
                self._dropped = 0

    def trip(self, reason: str) -> None:
        """The breaker's verdict: off now (no more triggers), then `automation.turn_off` as the breaker."""
        if not self.enabled or self._breaker is None:
            return
        self.enabled = False
        self.detach()
        self.off_reason = reason
        self.write_state()
        context = self._breaker.announce(self, reason)
        self.hub.create_task(self._turn_off_as(context), name=f"automation breaker:{self.automation_id}")

    async def _turn_off_as(self, context: Context) -> None:
        try:
            await self.hub.services.call("automation", "turn_off", {"entity_id": self.entity_id}, context=context)
        except OrbitEOSError:  # the service is not registered (an automation used on its own)
            await self.turn_off()

    async def _handle(self, run_variables: dict[str, Any], trigger_context: Context | None,
                      skip_condition: bool) -> None:
        hub = self.hub
        CURRENT_SOURCE.set(self.setpoint_source)  # this run's own task: its calls carry the source
        context = Context(parent_id=trigger_context.id if trigger_context is not None else None)
        trigger = run_variables.get("trigger")
        trace = Trace(hub, self.automation_id, self.entity_id, trigger, context)
        self._traces.add(trace)
        variables: dict[str, Any] = dict(run_variables)
        if self._reads_this and "this" not in run_variables:
            own_state = hub.states.get(self.entity_id)
            # `this` is the state as a mapping, as Home Assistant gives it (last_changed and
            # last_updated as ISO strings, the attributes as they are: last_triggered a datetime).
            variables["this"] = own_state.as_dict() if own_state else None
        check_conditions = not skip_condition and bool(self._conditions)
        try:
            if check_conditions and self._conditions_first:
                check_conditions = False
                if not all_pass(self._conditions, variables, trace, "condition", self.automation_id):
                    self._finish(trace, "failed_conditions")
                    return
            # As Home Assistant: rendered in order, each seeing the ones before it; the trigger's
            # run variables win over automation variables of the same name.
            for name, value, rendered in self._variable_plan:
                if name not in run_variables:
                    variables[name] = render_complex(value, variables, hub) if rendered else copy_plain(value)
            if check_conditions and not all_pass(
                self._conditions, variables, trace, "condition", self.automation_id
            ):
                self._finish(trace, "failed_conditions")
                return
        except OrbitEOSError as err:
            _LOGGER.error("%s: %s", self.automation_id, err)
            self._finish(trace, "error", str(err))
            return

        # As Home Assistant: a run the mode refuses is not "triggered" (no event, no last_triggered).
        if not self._admit(trace):
            return
        self.last_triggered = hub.clock.now()
        description = trigger.get("description") if isinstance(trigger, Mapping) else None
        # As Home Assistant: `source` only when the trigger has a description (not for a manual run).
        event_data = {"name": self.alias, "entity_id": self.entity_id}
        if description is not None:
            event_data["source"] = description
        hub.bus.fire(EVENT_AUTOMATION_TRIGGERED, event_data, context=context)
        variables["context"] = context
        if self.mode == "queued":
            await self._run_queued(variables, trace, context)
            return
        await self._run(variables, trace, context)

    def _admit(self, trace: Trace) -> bool:
        """Apply the mode to a new run; False (and the trace finished) when it may not start."""
        if self.mode == "single" and self._runs:
            self._log_exceeded("already running")
            self._finish(trace, "failed_single", "already running")
            return False
        if self.mode == "restart":
            for task in self._runs:
                task.cancel()
            return True
        if self.mode in ("queued", "parallel") and self.current >= self.max:
            self._log_exceeded(f"maximum number of runs exceeded ({self.max})")
            self._finish(trace, "failed_max_runs", f"maximum number of runs exceeded ({self.max})")
            return False
        return True

    def _log_exceeded(self, why: str) -> None:
        level = _LEVELS.get(self._max_exceeded)
        if level is not None:
            _LOGGER.log(level, "%s: %s (mode %s)", self.automation_id, why, self.mode)

    async def _run_queued(self, variables: dict[str, Any], trace: Trace, context: Context) -> None:
        if self._queue_lock is None:
            self._queue_lock = asyncio.Lock()
        lock = self._queue_lock
        waiting = lock.locked()
        if waiting:
            self._queued += 1
            self.write_state(context)
        try:
            await lock.acquire()
        except asyncio.CancelledError:
            self._finish(trace, "cancelled")
            raise
        finally:
            if waiting:
                self._queued -= 1
        try:
            await self._run(variables, trace, context)
        finally:
            lock.release()

    async def _run(self, variables: dict[str, Any], trace: Trace, context: Context,
                   resume: tuple[int, datetime] | None = None) -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - always inside a task
        self._runs.append(task)
        run = Run(self.hub, self.automation_id, trace, context)
        self._live[task] = (run, trace)
        self.write_state(context)
        result, error = "finished", None
        try:
            start = 0
            if resume is not None:  # a run that was in a top-level delay: its original deadline, then on
                start, deadline = resume
                run.top_step, run.sleeping = start, (deadline, variables)
                trace.step(f"action/{start}", resumed_until=deadline)
                await self.hub.clock.sleep(max(0.0, (deadline - self.hub.clock.now()).total_seconds()))
                run.sleeping = None
                start += 1
            await self._sequence.run(run, variables, "action", start)
        except StopRun as stop:
            result, error = stop.result, stop.error or (stop.message if stop.result == "aborted" else None)
        except asyncio.CancelledError:
            self._finish(trace, trace.result or "cancelled")  # `interrupted` when the engine stopped it
            self._runs.remove(task)
            del self._live[task]
            self.write_state(context)
            raise
        except OrbitEOSError as err:
            # A refusal that repeats run after run (a device in its fail-safe state) is logged once.
            repeated = getattr(err, "quiet_repeats", False) and str(err) == self._last_refusal
            self._last_refusal = str(err) if getattr(err, "quiet_repeats", False) else None
            _LOGGER.log(logging.DEBUG if repeated else logging.ERROR, "%s: run aborted: %s", self.automation_id, err)
            trace.step("error", error=str(err))
            result, error = "error", str(err)
        except Exception as err:
            _LOGGER.exception("%s: run failed unexpectedly", self.automation_id)
            result, error = "error", f"{type(err).__name__}: {err}"
        self._runs.remove(task)
        del self._live[task]
        self._finish(trace, result, error)
        self.write_state(context)

    # --- durable timers (automation/durable.py) --------------------------------------------
    def waiting_runs(self) -> list[dict[str, Any]]:
        """The runs sleeping in a top-level `delay:` and the pending `for:` of state triggers now,
        as entries that `resume` and `attach` take back."""
        entries = pending_for_entries(self.automation_id, self.fingerprint, self.trigger_statuses)
        for run, trace in self._live.values():
            if run.sleeping is None or run.top_step is None or self.fingerprint is None:
                continue
            deadline, variables = run.sleeping
            entry = pending_entry(self.automation_id, self.fingerprint, run.top_step, deadline, variables,
                                  trace.run_id, trace.context.parent_id)
            if entry is None:
                _LOGGER.warning("%s: run %s holds variables that cannot be kept; it will not resume",
                                self.automation_id, trace.run_id)
            else:
                entries.append(entry)
        return entries

    def interrupt(self, reason: str) -> None:
        """Close the trace of every running run as `interrupted` (the runs are cancelled next)."""
        for _, trace in self._live.values():
            trace.finish(INTERRUPTED, reason)

    def resume(self, entry: Mapping[str, Any]) -> None:
        """Continue a run that was waiting in a delay, or a `for:` timer (from the next `attach`)."""
        if entry.get("kind") == KIND_FOR:
            self._resume_for.setdefault(int(entry["trigger"]), {})[str(entry["entity_id"])] = for_deadline(entry)
            return
        self.hub.create_task(self._resume(entry), name=f"automation:{self.automation_id}")

    async def _resume(self, entry: Mapping[str, Any]) -> None:
        CURRENT_SOURCE.set(self.setpoint_source)
        context = Context(parent_id=entry.get("parent_id"))
        trigger = {"platform": None, "description": f"resumed run {entry['run_id']}"}
        trace = Trace(self.hub, self.automation_id, self.entity_id, trigger, context)
        self._traces.add(trace)
        variables = {**entry["variables"], "context": context}
        _LOGGER.info("%s: run %s resumes, waiting until %s", self.automation_id, entry["run_id"], entry["deadline"])
        await self._run(variables, trace, context, (int(entry["step"]), datetime.fromisoformat(entry["deadline"])))

    def _finish(self, trace: Trace, result: str, error: str | None = None) -> None:
        trace.finish(result, error)
        self._traces.changed()
        if self.hub.bus.has_listeners(EVENT_AUTOMATION_RUN_FINISHED):
            self.hub.bus.fire(
                EVENT_AUTOMATION_RUN_FINISHED,
                {
                    "automation_id": self.automation_id,
                    "entity_id": self.entity_id,
                    "run_id": trace.run_id,
                    "started": _isoformat(trace.started),
                    "finished": _isoformat(trace.finished) if trace.finished else None,
                    "result": result,
                    "error": error,
                    "trace": TraceView(trace),
                },
                context=trace.context,
            )


_last_formatted: tuple[datetime | None, str] = (None, "")


def _isoformat(moment: datetime) -> str:
    """`moment.isoformat()`, remembered for the last moment: the runs of one tick share the
    clock's datetime (start and finish, and the automations due together)."""
    global _last_formatted
    last, text = _last_formatted
    if moment is not last:
        text = moment.isoformat()
        _last_formatted = (moment, text)
    return text
