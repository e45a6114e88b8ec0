"""Charging sessions (OCPP transactions): kept across reconnects, announced on the bus when they end.

When a transaction stops, the hub fires `ocpp_session` with:

    charge_point_id, connector_id, entity_id, transaction_id, id_tag,
    start, stop (ISO 8601 UTC), meter_start_wh, meter_stop_wh, energy_kwh, reason

so that the recorder (which records every event) keeps one row per session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orbiteos.core import Hub

EVENT_OCPP_SESSION = "ocpp_session"
COMPLETED_KEPT = 1000


@dataclass
class Transaction:
    transaction_id: int
    charge_point_id: str
    connector_id: int
    entity_id: str
    id_tag: str
    start: datetime
    meter_start_wh: float
    meter_last_wh: float
    stop: datetime | None = None
    meter_stop_wh: float | None = None
    reason: str | None = None

    @property
    def energy_kwh(self) -> float:
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.meter_last_wh
        return round(max(0.0, end - self.meter_start_wh) / 1000.0, 3)

    def as_event_data(self) -> dict[str, Any]:
        return {
            "charge_point_id": self.charge_point_id,
            "connector_id": self.connector_id,
            "entity_id": self.entity_id,
            "transaction_id": self.transaction_id,
            "id_tag": self.id_tag,
            "start": self.start.isoformat(),
            "stop": self.stop.isoformat() if self.stop else None,
            "meter_start_wh": self.meter_start_wh,
            "meter_stop_wh": self.meter_stop_wh,
            "energy_kwh": self.energy_kwh,
            "reason": self.reason,
        }


class SessionBook:
    """Open transactions by id (they outlive connections) and the most recent completed ones."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._open: dict[int, Transaction] = {}
        self.completed: deque[Transaction] = deque(maxlen=COMPLETED_KEPT)
        self._last_id = 0

    def _next_id(self) -> int:
        # Seeded from the clock so ids keep increasing across engine restarts (a charger may still hold one).
        self._last_id = max(self._last_id + 1, int(self._hub.clock.now().timestamp()))
        return self._last_id

    def start(
        self,
        charge_point_id: str,
        connector_id: int,
        entity_id: str,
        id_tag: str,
        start: datetime,
        meter_start_wh: float,
    ) -> Transaction:
        for stale in [t for t in self.open_for(charge_point_id) if t.connector_id == connector_id]:
            # A new transaction on a busy connector means the charger lost the old one's stop.
            self.stop(stale.transaction_id, stale.meter_last_wh, start, reason="Other")
        tx = Transaction(
            self._next_id(), charge_point_id, connector_id, entity_id, id_tag, start, meter_start_wh, meter_start_wh
        )
        self._open[tx.transaction_id] = tx
        return tx

    def get(self, transaction_id: int | None) -> Transaction | None:
        return None if transaction_id is None else self._open.get(transaction_id)

    def open_for(self, charge_point_id: str) -> Iterator[Transaction]:
        return (t for t in list(self._open.values()) if t.charge_point_id == charge_point_id)

    def on_connector(self, charge_point_id: str, connector_id: int) -> Transaction | None:
        for tx in self.open_for(charge_point_id):
            if tx.connector_id == connector_id:
                return tx
        return None

    def stop(
        self, transaction_id: int, meter_stop_wh: float, stop: datetime, reason: str | None = None
    ) -> Transaction | None:
        """Close a transaction and fire `ocpp_session`; None when the id is not open here."""
        tx = self._open.pop(transaction_id, None)
        if tx is None:
            return None
        tx.stop = stop
        tx.meter_stop_wh = meter_stop_wh
        tx.meter_last_wh = meter_stop_wh
        tx.reason = reason
        self.completed.append(tx)
        self._hub.bus.fire(EVENT_OCPP_SESSION, tx.as_event_data())
        return tx
