"""Traces: what one automation run saw and did, kept for the last N runs and across restarts.

A trace holds the trigger, each step with its result (a condition's verdict and the values it
saw, the rendered service data, a wait's outcome, an error), timings, and the context ids that
link the run back to the state change that triggered it. Steps are keyed by path, as Home
Assistant's: `condition/0`, `action/1/then/0`, `action/2/repeat/sequence/0`.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from orbiteos.core import Context, Event, Hub, State

_LOGGER = logging.getLogger(__name__)

DEFAULT_STORED_TRACES = 5
STORAGE_FILE = "traces.json"
_SAVE_DELAY_S = 10.0


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """States, events, contexts, datetimes and nested data as plain JSON values."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if depth > 12:
        return repr(value)
    if isinstance(value, State | Event | Context):
        return to_jsonable(value.as_dict(), depth + 1)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, depth + 1) for v in value]
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return to_jsonable(as_dict(), depth + 1)
    return str(value)


class Trace:
    """One run: created when a trigger fires (before conditions), finished when the run ends."""

    __slots__ = ("run_id", "automation_id", "entity_id", "started", "finished", "trigger", "context",
                 "steps", "result", "error", "_hub")

    def __init__(self, hub: Hub, automation_id: str, entity_id: str, trigger: Mapping[str, Any] | None,
                 context: Context) -> None:
        self._hub = hub
        self.run_id = context.id
        self.automation_id = automation_id
        self.entity_id = entity_id
        self.started = hub.clock.now()
        self.finished: datetime | None = None
        self.trigger = trigger
        self.context = context
        self.steps: list[dict[str, Any]] = []
        self.result: str | None = None
        self.error: str | None = None

    def step(self, path: str, **details: Any) -> dict[str, Any]:
        """Record a step at `path`; returns the record so the caller can add its outcome."""
        record = {"path": path, "timestamp": self._hub.clock.now(), **details}
        self.steps.append(record)
        return record

    def finish(self, result: str, error: str | None = None) -> None:
        if self.finished is None:
            self.finished = self._hub.clock.now()
            self.result = result
            self.error = error

    def as_dict(self) -> dict[str, Any]:
        trigger = self.trigger or {}
        return {
            "run_id": self.run_id,
            "automation_id": self.automation_id,
            "entity_id": self.entity_id,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "result": self.result,
            "error": self.error,
            "trigger": to_jsonable(trigger),
            # A run of automation.trigger has `trigger: {platform: None}`, as in Home Assistant.
            "trigger_description": trigger.get("description")
            or ("manual trigger" if "platform" in trigger and trigger["platform"] is None else None),
            "context": self.context.as_dict(),
            "steps": [to_jsonable(step) for step in self.steps],
        }


class TraceView(Mapping[str, Any]):
    """A finished trace as the JSON-able mapping `Trace.as_dict()` gives, built on first read.

    `automation_run_finished` carries one: most runs' traces are never read by anyone (a
    simulation counts the runs), and turning the steps into JSON is a good part of a run's cost.
    """

    __slots__ = ("_trace", "_dict")

    def __init__(self, trace: Trace) -> None:
        self._trace = trace
        self._dict: dict[str, Any] | None = None

    @property
    def raw_trigger(self) -> Mapping[str, Any] | None:
        """The trigger variables as the run got them (States, not their JSON); `view["trigger"]`
        is their JSON, as in the built trace."""
        return self._trace.trigger

    @property
    def raw_started(self) -> datetime:
        """When the run started, as the datetime (`view["started"]` is its ISO text)."""
        return self._trace.started

    def as_dict(self) -> dict[str, Any]:
        if self._dict is None:
            self._dict = self._trace.as_dict()
        return self._dict

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __repr__(self) -> str:
        return f"<TraceView {self._trace.automation_id} {self._trace.run_id}>"


def _closed(trace: dict[str, Any]) -> dict[str, Any]:
    """A stored trace of a run the engine never closed (it stopped without saying): `interrupted`."""
    if trace.get("finished") is None and trace.get("result") is None:
        return {**trace, "result": "interrupted", "error": "the engine stopped during the run"}
    return trace


class TraceStore:
    """The last N traces of every automation; saved to `traces.json` in the site's storage."""

    def __init__(self, hub: Hub, path: Path | None) -> None:
        self._hub = hub
        self.path = path
        self._traces: dict[str, deque[dict[str, Any] | Trace]] = {}
        self._limits: dict[str, int] = {}
        self._save_handle: Any = None

    def configure(self, automation_id: str, stored_traces: int) -> None:
        self._limits[automation_id] = stored_traces
        old = self._traces.get(automation_id, ())
        self._traces[automation_id] = deque(old, maxlen=stored_traces)

    def add(self, trace: Trace) -> None:
        bucket = self._traces.get(trace.automation_id)
        if bucket is None:
            bucket = self._traces[trace.automation_id] = deque(maxlen=DEFAULT_STORED_TRACES)
        bucket.append(trace)

    def changed(self) -> None:
        """A run finished: save soon (debounced)."""
        if self.path is None or self._save_handle is not None:
            return
        self._save_handle = self._hub.clock.call_later(_SAVE_DELAY_S, self._save_due)

    def _save_due(self) -> None:
        self._save_handle = None
        self.save()

    def traces(self, automation_id: str) -> list[dict[str, Any]]:
        """Newest last, as JSON-able dicts."""
        return [t.as_dict() if isinstance(t, Trace) else t for t in self._traces.get(automation_id, ())]

    def all(self) -> dict[str, list[dict[str, Any]]]:
        return {automation_id: self.traces(automation_id) for automation_id in self._traces}

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            stored = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            _LOGGER.warning("traces in %s could not be read (%s); starting without them", self.path, err)
            return
        if not isinstance(stored, dict):
            return
        for automation_id, items in stored.get("traces", {}).items():
            if isinstance(items, list):
                limit = self._limits.get(automation_id, DEFAULT_STORED_TRACES)
                kept = [_closed(i) for i in items if isinstance(i, dict)]
                self._traces[automation_id] = deque(kept, maxlen=limit)

    def save(self) -> None:
        if self.path is None:
            return
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        document = {"version": 1, "traces": self.all()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(document, default=str))
            os.replace(tmp, self.path)
        except OSError as err:
            _LOGGER.error("could not save traces to %s: %s", self.path, err)

    def forget(self, keep: Iterable[str]) -> None:
        keep = set(keep)
        for automation_id in list(self._traces):
            if automation_id not in keep:
                del self._traces[automation_id]
