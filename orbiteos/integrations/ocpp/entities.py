"""`ev_charger.<charge_point>_<connector>`: one entity per connector, with the ev_charger nature attributes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orbiteos.core import Hub
from orbiteos.entity import Entity, slugify


def charger_entity_id(charge_point_id: str, connector_id: int) -> str:
    return f"ev_charger.{slugify(charge_point_id)}_{connector_id}"


class ConnectorEntity(Entity):
    """A connector of an OCPP charge point; state is the charging power in kW (>= 0)."""

    def __init__(self, hub: Hub, charge_point_id: str, connector_id: int, name: str | None = None) -> None:
        super().__init__(hub, charger_entity_id(charge_point_id, connector_id), name)
        self.charge_point_id = charge_point_id
        self.connector_id = connector_id
        self.unit_of_measurement = "kW"
        self.available = False
        self.power_kw: float = 0.0
        self.status: str | None = None
        self.error_code: str | None = None
        self.limit_kw: float | None = None
        self.session_kwh: float = 0.0
        self.energy_kwh: float | None = None
        self.vehicle_soc: float | None = None
        self.transaction_id: int | None = None
        self.id_tag: str | None = None
        self.currents_a: dict[str, float] = {}
        self.voltage_v: float | None = None
        self.ownership: dict[str, Any] = {}
        self.max_power_kw: float | None = None

    @property
    def state(self) -> Any:
        return round(self.power_kw, 3)

    @property
    def attributes(self) -> Mapping[str, Any]:
        attrs: dict[str, Any] = {
            "status": self.status,
            "limit_kw": self.limit_kw,
            "session_kwh": round(self.session_kwh, 3),
            "connector_id": self.connector_id,
            "charge_point_id": self.charge_point_id,
        }
        if self.max_power_kw is not None:
            attrs["max_power_kw"] = self.max_power_kw
        if self.vehicle_soc is not None:
            attrs["vehicle_soc"] = self.vehicle_soc
        if self.energy_kwh is not None:
            attrs["energy_kwh"] = round(self.energy_kwh, 3)
        if self.transaction_id is not None:
            attrs["transaction_id"] = self.transaction_id
            attrs["id_tag"] = self.id_tag
        if self.error_code and self.error_code != "NoError":
            attrs["error_code"] = self.error_code
        for phase, amps in sorted(self.currents_a.items()):
            attrs[f"current_{phase}"] = amps
        if self.voltage_v is not None:
            attrs["voltage"] = self.voltage_v
        attrs.update(super().attributes)
        attrs.update(self.ownership)
        return attrs

    def begin_transaction(self, transaction_id: int, id_tag: str) -> None:
        self.transaction_id = transaction_id
        self.id_tag = id_tag
        self.session_kwh = 0.0
        self.vehicle_soc = None

    def end_transaction(self, session_kwh: float) -> None:
        self.transaction_id = None
        self.id_tag = None
        self.session_kwh = session_kwh
        self.power_kw = 0.0
        self.currents_a = {}
