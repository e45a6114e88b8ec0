"""The engine's resource bounds: what one template render, one automation and the event bus may use.

Set in the core block (`orbiteos: limits:`); every key is optional and defaults to the value here
(docs/security.md lists them). A bound that is reached is an error naming what reached it, never
a frozen event loop or an unbounded queue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import voluptuous as vol


@dataclass(frozen=True)
class Limits:
    """Resource bounds of one hub."""

    # A template render that runs longer than this (wall-clock seconds) fails with a TemplateError.
    template_render_seconds: float = 0.5
    # Characters one render may output in all, and the weight (printed size) of any value it builds.
    template_max_output: int = 1_000_000
    # Times one automation may be triggered per `automation_rate_window` seconds before it is turned off.
    automation_max_triggers: int = 500
    automation_rate_window: float = 10.0
    # Triggers of all automations together per window; past it the most triggered one is turned off.
    automation_storm_triggers: int = 5_000
    # Runs of one automation started and not yet ended, beyond its mode's `max` (1 for single/restart).
    automation_max_pending: int = 100


def _positive(kind: type) -> Any:
    return vol.All(vol.Coerce(kind), vol.Range(min=kind(1) if kind is int else 0.001))


LIMITS_SCHEMA = vol.Schema(
    {vol.Optional(f.name): _positive(int if isinstance(f.default, int) else float) for f in fields(Limits)}
)


def limits_from_config(block: dict[str, Any] | None) -> Limits:
    """`Limits` from a validated `limits:` block (None: the defaults)."""
    return Limits(**(block or {}))


class FixedWindow:
    """A count of happenings in the current fixed window of time (windows start at the first one after)."""

    __slots__ = ("start", "count")

    def __init__(self) -> None:
        self.start = float("-inf")
        self.count = 0

    def add(self, now: float, window: float) -> int:
        """Count one at `now` (seconds on a monotonic clock); returns the count in its window."""
        if now - self.start >= window:
            self.start = now
            self.count = 0
        self.count += 1
        return self.count
