"""One run of an action sequence: the hub, the trace, the context every service call carries."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from orbiteos.automation.trace import Trace
from orbiteos.core import Context, Hub

_LOGGER = logging.getLogger("orbiteos.automation")


class StopRun(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Ends a run early: a `stop` step, a false condition step, a wait that timed out."""

    def __init__(self, result: str, message: str | None = None, error: str | None = None) -> None:
        super().__init__(message or result)
        self.result = result
        self.message = message
        self.error = error


class Run:
    """State shared by every step of one run (variables are passed along separately, by scope)."""

    __slots__ = ("hub", "name", "trace", "context", "logger", "top_step", "sleeping")

    def __init__(self, hub: Hub, name: str, trace: Trace | None, context: Context) -> None:
        self.hub = hub
        self.name = name
        self.trace = trace
        self.context = context
        self.logger = _LOGGER
        # Where a run is, for durable timers (automation/durable.py): the index of the top-level
        # step it is in, and while that step is a `delay:`, (its deadline, the run's variables).
        self.top_step: int | None = None
        self.sleeping: tuple[datetime, dict[str, Any]] | None = None

    def step(self, path: str, **details: object) -> dict[str, object] | None:
        return self.trace.step(path, **details) if self.trace is not None else None
