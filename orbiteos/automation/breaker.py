"""The breaker that turns a runaway automation off: per-automation trigger rate, global trigger storm.

An automation whose run fires its own trigger (an `event:` action it listens to, a state it writes
and watches) would otherwise start runs as fast as the event loop turns, in every mode. Each
trigger is counted in a fixed window of `limits.automation_rate_window` seconds (on the hub's clock,
so a simulated loop trips too): past `automation_max_triggers` for one automation, or past
`automation_storm_triggers` for all of them together (then the most triggered one goes), the
automation is turned off through `automation.turn_off` with the breaker as the caller (an
`audit_log` row), an `automation_breaker_tripped` event, an ERROR line, and an `off_reason`
attribute on its entity until it is turned on again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from orbiteos.core import Context, Hub
from orbiteos.limits import FixedWindow, Limits

_LOGGER = logging.getLogger("orbiteos.automation")

EVENT_BREAKER_TRIPPED = "automation_breaker_tripped"
BREAKER_USER = "orbiteos.breaker"


class Guarded(Protocol):
    automation_id: str
    entity_id: str
    triggers_in_window: int

    def trip(self, reason: str) -> None:
        """Turn off now, for `reason`."""


class Breaker:
    """One per hub: counts triggers, and says which automation to turn off and why."""

    def __init__(self, hub: Hub, limits: Limits, automations: Callable[[], Iterable[Guarded]]) -> None:
        self._hub = hub
        self._limits = limits
        self._automations = automations
        self._all = FixedWindow()

    def count(self, automation: Guarded, own: FixedWindow) -> tuple[Guarded, str] | None:
        """Count one trigger of `automation`; (the automation to turn off, why) when a bound is passed."""
        limits = self._limits
        now = self._hub.clock.monotonic()
        window = limits.automation_rate_window
        mine = own.add(now, window)
        automation.triggers_in_window = mine
        if mine > limits.automation_max_triggers:
            return automation, (
                f"triggered {mine} times within {window:g} s, more than {limits.automation_max_triggers} "
                "(limits.automation_max_triggers): a run that triggers itself?"
            )
        total = self._all.add(now, window)
        if total > limits.automation_storm_triggers:
            self._all.count = 0  # the next window starts after this trip
            busiest = max(self._automations(), key=lambda a: a.triggers_in_window, default=automation)
            return busiest, (
                f"event storm: automations triggered {total} times within {window:g} s, more than "
                f"{limits.automation_storm_triggers} (limits.automation_storm_triggers); this one most "
                f"({busiest.triggers_in_window})"
            )
        return None

    def announce(self, automation: Guarded, reason: str) -> Context:
        """Log and fire the trip; returns the context the turn-off call is to carry."""
        context = Context(user_id=BREAKER_USER)
        _LOGGER.error("%s: turned off by the breaker: %s", automation.automation_id, reason)
        self._hub.bus.fire(
            EVENT_BREAKER_TRIPPED,
            {"automation_id": automation.automation_id, "entity_id": automation.entity_id, "reason": reason},
            context=context,
        )
        return context
