"""Measured power of a set of entities, averaged over each slot as it closes (powers held between
state changes, as the KPIs integrate them)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from orbiteos.core import Event, Hub, Unsubscribe


def power_of(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


class SlotAverager:
    """Sums the powers of `entity_ids`; `close(ts)` gives the mean since the last close (None when
    no entity had a number for any of that time, e.g. all unavailable)."""

    def __init__(self, hub: Hub, entity_ids: Iterable[str], now_ts: float) -> None:
        self.entity_ids = list(entity_ids)
        self._power: dict[str, float | None] = {}
        for entity_id in self.entity_ids:
            state = hub.states.get(entity_id)
            self._power[entity_id] = power_of(state.state) if state is not None else None
        self._t = self._since = now_ts
        self._energy = 0.0
        self._known_s = 0.0
        self._unsubscribe: Unsubscribe = hub.states.listen(self.entity_ids, self._on_state)

    def _on_state(self, event: Event) -> None:
        self._advance(event.time_fired.timestamp())
        new_state = event.data.get("new_state")
        self._power[event.data["entity_id"]] = power_of(new_state.state) if new_state is not None else None

    def _advance(self, ts: float) -> None:
        seconds = ts - self._t
        if seconds <= 0:
            return
        powers = list(self._power.values())
        if powers and all(p is not None for p in powers):
            self._energy += sum(p for p in powers if p is not None) * seconds
            self._known_s += seconds
        self._t = ts

    def current_kw(self) -> float | None:
        powers = list(self._power.values())
        return sum(p for p in powers if p is not None) if powers and None not in powers else None

    def close(self, ts: float) -> float | None:
        self._advance(ts)
        mean = self._energy / self._known_s if self._known_s > 0 else None
        self._energy = self._known_s = 0.0
        self._since = ts
        return mean

    def stop(self) -> None:
        self._unsubscribe()
