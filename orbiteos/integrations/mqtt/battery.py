"""A battery (the `battery` device nature) over MQTT: telemetry from one JSON topic, setpoints
published as JSON to command topics.

Telemetry fields follow the meter's rules (dotted JSON paths, optional scale; defaults are what
`orbiteos sim-devices` publishes). `battery.set_power` publishes `{"power_kw": x, "revert_s": n}`
to `set_power_topic` and `battery.auto` publishes `{}` to `auto_topic` (QoS 1): a device that
honours `revert_s` goes back to automatic by itself when OrbitEOS stops renewing the setpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orbiteos.core import Hub
from orbiteos.errors import DeviceUnavailable
from orbiteos.integrations.mqtt.client import MqttNotConnected
from orbiteos.integrations.mqtt.connection import MqttConnection
from orbiteos.integrations.mqtt.meter import MqttMeter
from orbiteos.natures import Command

BATTERY_FIELDS: dict[str, str] = {
    name: name
    for name in ("soc", "soh", "capacity_kwh", "max_charge_kw", "max_discharge_kw", "setpoint_kw", "cycles",
                 "temperature_c", "mode")
} | {"power": "power_kw"}


class MqttBattery(MqttMeter):
    platform = "battery"
    default_fields = BATTERY_FIELDS
    text_fields = frozenset({"mode"})

    def __init__(self, hub: Hub, connection: MqttConnection, config: Mapping[str, Any]) -> None:
        super().__init__(hub, connection, config)
        state_topic = config["state_topic"]
        self.set_power_topic: str = config.get("set_power_topic") or f"{state_topic}/set_power"
        self.auto_topic: str = config.get("auto_topic") or f"{state_topic}/auto"
        self.qos: int = config.get("qos", 1)
        self.ownership: dict[str, Any] = {}

    @property
    def attributes(self) -> Mapping[str, Any]:
        attrs = dict(super().attributes)
        attrs.update(self.ownership)
        return attrs

    async def _send(self, topic: str, document: dict[str, Any], command: Command) -> None:
        if command.revert_s is not None:
            document["revert_s"] = round(command.revert_s)
        try:
            await self.connection.client.publish(topic, json.dumps(document), qos=self.qos)
        except MqttNotConnected as err:
            raise DeviceUnavailable(f"{self.entity_id}: {topic}: {err}") from None
        self.ownership = dict(command.attributes)
        # The device answers with its next telemetry: that state write carries the call's context.
        self.set_context(command.context)

    async def set_power(self, power_kw: float, command: Command) -> None:
        await self._send(self.set_power_topic, {"power_kw": power_kw}, command)

    async def auto(self, command: Command) -> None:
        await self._send(self.auto_topic, {}, Command(command.context, None, command.attributes))
