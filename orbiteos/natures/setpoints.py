"""Who owns each device's setpoint: its source, priority, age, and the conflicts between sources.

The rule (docs/failsafe.md, "Ownership"): a source may replace a setpoint when it has the same or a
higher priority than the setpoint's source, or when that setpoint was released (`battery.auto`), or
when the automation run that wrote it has ended and its source has not written it for
`priority_hold` seconds. A device in its fail-safe state takes only
the fail-safe's setpoints. Two sources of the same priority writing one device within
`conflict_window` seconds is a conflict: logged once per pair, raised as an alert, and fired as a
`setpoint_conflict` event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orbiteos.core import Context, Hub
from orbiteos.errors import ServiceValidationError
from orbiteos.natures.alerts import Alerts
from orbiteos.natures.settings import FailsafeSettings
from orbiteos.natures.source import FAILSAFE, SetpointSource

_LOGGER = logging.getLogger(__name__)
EVENT_SETPOINT_CONFLICT = "setpoint_conflict"


class SetpointRefused(ServiceValidationError):
    """A setpoint the ownership rules or the fail-safe do not let through."""

    # The same refusal run after run is logged once by the automation that meets it.
    quiet_repeats = True


@dataclass(slots=True)
class Setpoint:
    entity_id: str
    domain: str
    service: str
    data: Mapping[str, Any]
    source: SetpointSource
    context: Context
    written_at: float  # monotonic: when its source last wrote it
    released: bool = False
    # The automation run that wrote it: while it lasts (a wait for recovery, say), the claim does.
    run: asyncio.Task[Any] | None = None


class SetpointBook:
    def __init__(self, hub: Hub, settings: Callable[[], FailsafeSettings], alerts: Alerts) -> None:
        self.hub = hub
        self._settings = settings
        self.alerts = alerts
        self.live: dict[str, Setpoint] = {}
        self.locked: dict[str, str] = {}  # entity id -> why it is in its safe state
        self._conflicts_logged: set[tuple[str, str, str]] = set()
        self._conflict_seen: dict[str, float] = {}

    def admit(self, entity_id: str, domain: str, service: str, source: SetpointSource) -> None:
        """Raise SetpointRefused when `source` may not write this device now."""
        what = f"{domain}.{service}"
        if source is not FAILSAFE and entity_id in self.locked:
            raise SetpointRefused(
                f"{what}: {entity_id} is in its fail-safe state ({self.locked[entity_id]}); "
                f"setpoint from {source.name} refused until the inputs are fresh again"
            )
        current = self.live.get(entity_id)
        if current is None or current.source.name == source.name or source is FAILSAFE:
            return
        settings = self._settings()
        age = self.hub.clock.monotonic() - current.written_at
        running = current.run is not None and not current.run.done()
        if current.source.priority > source.priority and not current.released and (
            running or age < settings.priority_hold_s
        ):
            how_long = "while its run lasts" if running else f"for {settings.priority_hold_s - age:.0f} s more"
            raise SetpointRefused(
                f"{what}: {entity_id} is held by {current.source.name} (priority {current.source.priority:g}) "
                f"{how_long} unless it releases it; {source.name} has priority {source.priority:g}"
            )
        # Equal priorities fight; a higher one taking over, or a lower one after the claim, is a hand-over.
        if (age < settings.conflict_window_s and current.source.priority == source.priority
                and not current.source.name.startswith(FAILSAFE.name)):
            self._conflict(entity_id, current, source, age)

    def _conflict(self, entity_id: str, current: Setpoint, source: SetpointSource, age: float) -> None:
        self._conflict_seen[entity_id] = self.hub.clock.monotonic()
        first, second = sorted((current.source.name, source.name))
        message = f"{entity_id} written by {first} and {second} within {self._settings().conflict_window_s:g} s"
        key = (entity_id, first, second)
        if key not in self._conflicts_logged:
            self._conflicts_logged.add(key)
            _LOGGER.warning("setpoint conflict: %s (%s %.0f s before %s)", message, current.source.name, age,
                            source.name)
            self.hub.bus.fire(EVENT_SETPOINT_CONFLICT, {
                "kind": EVENT_SETPOINT_CONFLICT, "entity_id": entity_id, "sources": [first, second], "message": message,
            })
        self.alerts.raise_alert(f"conflict:{entity_id}", "setpoint_conflict", entity_id, message)

    def clear_old_conflicts(self) -> None:
        """A conflict alert closes once one source alone has written the device for 10 windows."""
        now = self.hub.clock.monotonic()
        window = 10 * max(self._settings().conflict_window_s, 1.0)
        for entity_id, seen in list(self._conflict_seen.items()):
            if now - seen > window:
                del self._conflict_seen[entity_id]
                self.alerts.clear(f"conflict:{entity_id}")

    def record(self, entity_id: str, domain: str, service: str, data: Mapping[str, Any], source: SetpointSource,
               context: Context, released: bool) -> Setpoint:
        run = asyncio.current_task() if source.name.startswith("automation.") else None
        setpoint = Setpoint(entity_id, domain, service, data, source, context, self.hub.clock.monotonic(),
                            released, run)
        self.live[entity_id] = setpoint
        return setpoint
