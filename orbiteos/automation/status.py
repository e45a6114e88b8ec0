"""What each trigger of an automation last saw and decided, kept for `explain` ("why didn't it fire?").

A trigger platform that is given a `TriggerStatus` (in `trigger_info["status"]`) notes, per entity,
the last value it judged, whether it is armed, a pending `for:` and why it last refused to fire.
Noting is a few dict writes per state change; nothing here is read on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass
class EntityStatus:
    """One watched entity, as the trigger last judged it."""

    value: Any = None
    seen: datetime | None = None
    armed: bool | None = None
    pending_until: datetime | None = None
    pending_for: timedelta | None = None  # the `for:` period of the pending timer
    refused: str | None = None
    refused_at: datetime | None = None


@dataclass
class TriggerStatus:
    """One trigger of an automation: what it watches, its entities, and when it last fired."""

    index: int
    platform: str
    trigger_id: str
    enabled: bool = True
    watching: str = ""
    entities: dict[str, EntityStatus] = field(default_factory=dict)
    last_fired: datetime | None = None
    attached: bool = False
    # Time-based triggers: the next moment each schedule (an `at` entry, a pattern) will fire.
    due: dict[str, datetime | None] = field(default_factory=dict)
    # `for:` deadlines by entity id from before a restart or reload, to resume (automation/durable.py).
    # entity id -> (deadline, the value it was held at, the `for` period).
    resume_until: dict[str, tuple[datetime, Any, timedelta]] = field(default_factory=dict)

    def entity(self, entity_id: str) -> EntityStatus:
        found = self.entities.get(entity_id)
        if found is None:
            found = self.entities[entity_id] = EntityStatus()
        return found

    def saw(
        self, entity_id: str, value: Any, now: datetime, armed: bool | None = None, refused: str | None = None
    ) -> None:
        """Note a judgement of `entity_id`: its value, whether armed now, and a refusal if any."""
        entry = self.entity(entity_id)
        entry.value, entry.seen = value, now
        if armed is not None:
            entry.armed = armed
        if refused is not None:
            entry.refused, entry.refused_at = refused, now

    def pending(self, entity_id: str, until: datetime | None, period: timedelta | None = None) -> None:
        entry = self.entity(entity_id)
        entry.pending_until, entry.pending_for = until, period

    def fired(self, now: datetime) -> None:
        self.last_fired = now

    def scheduled(self, label: str) -> Callable[[datetime | None], None]:
        """A `track_moments` listener noting the next moment of the schedule `label`."""

        def note(moment: datetime | None) -> None:
            self.due[label] = moment

        return note

    @property
    def next_due(self) -> datetime | None:
        moments = [moment for moment in self.due.values() if moment is not None]
        return min(moments) if moments else None
