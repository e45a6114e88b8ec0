"""Site alerts: fail-safe states and setpoint conflicts, as one entity the web UI shows.

`sensor.orbiteos_alerts` holds the number of open alerts; its `alerts` attribute lists them
(`kind`, `entity_id`, `message`, `since`), newest last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orbiteos.core import Context, Hub

ALERTS_ENTITY = "sensor.orbiteos_alerts"
# Closed conflicts and other passing alerts are kept this many at most.
MOST_ALERTS = 50


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # "failsafe", "setpoint_conflict"
    entity_id: str | None
    message: str
    since: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "entity_id": self.entity_id, "message": self.message,
                "since": self.since.isoformat()}


class Alerts:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.open: dict[str, Alert] = {}

    def raise_alert(self, key: str, kind: str, entity_id: str | None, message: str,
                    context: Context | None = None) -> None:
        if key in self.open and self.open[key].message == message:
            return
        self.open[key] = Alert(kind, entity_id, message, self.hub.clock.now())
        while len(self.open) > MOST_ALERTS:
            del self.open[next(iter(self.open))]
        self._write(context)

    def clear(self, key: str, context: Context | None = None) -> None:
        if self.open.pop(key, None) is not None:
            self._write(context)

    def clear_kind(self, kind: str) -> None:
        keys = [k for k, a in self.open.items() if a.kind == kind]
        for key in keys:
            del self.open[key]
        if keys:
            self._write()

    def _write(self, context: Context | None = None) -> None:
        self.hub.states.set(
            ALERTS_ENTITY, len(self.open),
            {"alerts": [a.as_dict() for a in self.open.values()], "friendly_name": "OrbitEOS alerts",
             "icon": "mdi:alert"},
            context=context,
        )
