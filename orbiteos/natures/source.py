"""Who is writing a setpoint: an automation (with its `priority:`), an API token, or the fail-safe.

An automation run sets `CURRENT_SOURCE` in its own task, so every service call it makes carries it;
a call from the API carries its token's name in `Context.user_id`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from orbiteos.core import Context


@dataclass(frozen=True, slots=True)
class SetpointSource:
    name: str  # "automation.peak_shaving", "user:ops", "failsafe", "keepalive"
    priority: float = 0.0


FAILSAFE = SetpointSource("failsafe", float("inf"))
CURRENT_SOURCE: ContextVar[SetpointSource | None] = ContextVar("orbiteos_setpoint_source", default=None)


def source_of(context: Context) -> SetpointSource:
    """The source of a call made in this task with this context."""
    current = CURRENT_SOURCE.get()
    if current is not None:
        return current
    if context.user_id:
        return SetpointSource(f"user:{context.user_id}")
    return SetpointSource("unknown")
