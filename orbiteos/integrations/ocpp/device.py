"""One configured charge point: its settings, its connector entities and its current connection, if any.

The device outlives connections: a charger that drops and reconnects finds its entities and
transactions where it left them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orbiteos.core import Hub
from orbiteos.integrations.ocpp.entities import ConnectorEntity

if TYPE_CHECKING:
    from orbiteos.integrations.ocpp.charge_point import CentralSystemChargePoint

_LOGGER = logging.getLogger(__name__)

UNIT_AUTO = "auto"
UNIT_WATTS = "W"
UNIT_AMPS = "A"


@dataclass(frozen=True)
class ChargePointSettings:
    charge_point_id: str
    password: str | None = None
    connectors: int = 1
    phases: int = 3
    voltage: float = 230.0
    max_current_a: float = 32.0
    charging_rate_unit: str = UNIT_AUTO
    name: str | None = None


@dataclass(frozen=True)
class Limit:
    """A charging limit expressed in the unit the charger wants, and in kW for the entity."""

    unit: str
    value: float
    limit_kw: float


class ChargePointDevice:
    def __init__(self, hub: Hub, settings: ChargePointSettings) -> None:
        self.hub = hub
        self.settings = settings
        self.connection: CentralSystemChargePoint | None = None
        self.entities: dict[int, ConnectorEntity] = {}
        self.info: dict[str, Any] = {}
        self.status: str | None = None  # connector 0: the charge point as a whole
        self.firmware_status: str | None = None
        self.diagnostics_status: str | None = None
        # Learned from ChargingScheduleAllowedChargingRateUnit after boot when the setting is `auto`.
        self.advertised_unit: str | None = None
        # TxDefaultProfile limits per connector, so limit_kw falls back to them when a transaction ends.
        self.default_limit_kw: dict[int, float] = {}
        # (connection, connector) -> the fallback limit installed on that connection.
        self.fallback_sent: dict[tuple[int, int], Limit] = {}
        for connector_id in range(1, settings.connectors + 1):
            self.connector(connector_id)

    @property
    def charge_point_id(self) -> str:
        return self.settings.charge_point_id

    @property
    def connected(self) -> bool:
        return self.connection is not None

    def connector(self, connector_id: int) -> ConnectorEntity:
        """The entity of a connector, created (and written) the first time the charger names it."""
        entity = self.entities.get(connector_id)
        if entity is None:
            name = f"{self.settings.name or self.charge_point_id} connector {connector_id}"
            entity = ConnectorEntity(self.hub, self.charge_point_id, connector_id, name)
            entity.max_power_kw = round(
                self.settings.max_current_a * self.settings.voltage * self.settings.phases / 1000.0, 3
            )
            entity.available = self.connected
            self.entities[connector_id] = entity
            entity.write_state()
        return entity

    def attach(self, connection: CentralSystemChargePoint) -> CentralSystemChargePoint | None:
        """Make `connection` current; returns the connection it replaces, if any."""
        previous, self.connection = self.connection, connection
        for entity in self.entities.values():
            entity.set_available(True)
        return previous

    def detach(self, connection: CentralSystemChargePoint) -> None:
        """The connection ended; entities go `unavailable` unless a newer connection took over."""
        if self.connection is not connection:
            return
        self.connection = None
        for entity in self.entities.values():
            entity.set_available(False)

    @property
    def charging_rate_unit(self) -> str:
        if self.settings.charging_rate_unit != UNIT_AUTO:
            return self.settings.charging_rate_unit
        return self.advertised_unit or UNIT_AMPS

    def limit(self, power_kw: float | None = None, current_a: float | None = None) -> Limit:
        """Convert a limit given in kW or A into the charger's unit (W or A), at its phases and voltage."""
        volts_total = self.settings.voltage * self.settings.phases
        if power_kw is None and current_a is None:
            raise ValueError("a limit needs power_kw or current_a")
        watts = power_kw * 1000.0 if power_kw is not None else float(current_a) * volts_total  # type: ignore[arg-type]
        if self.charging_rate_unit == UNIT_WATTS:
            value = round(watts, 1)
        else:
            value = round(current_a if current_a is not None else watts / volts_total, 1)
        return Limit(self.charging_rate_unit, value, round(watts / 1000.0, 3))
