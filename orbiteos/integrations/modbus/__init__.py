"""Modbus TCP: sensors, binary sensors, switches and battery, PV and grid meter natures on real devices.

The YAML is Home Assistant's `modbus:` list of hubs; see docs/integrations/modbus.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from orbiteos.core import Hub, ServiceCall
from orbiteos.entity import slugify
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations.modbus.client import ModbusClient
from orbiteos.integrations.modbus.entities import ModbusBinarySensor, ModbusSensor, ModbusSwitch, PolledEntity
from orbiteos.integrations.modbus.natures import ModbusBattery, ModbusMeter, ModbusPV
from orbiteos.integrations.modbus.poller import DevicePoller, Endpoint
from orbiteos.integrations.modbus.schema import CONFIG_SCHEMA, ENTITY_KEYS
from orbiteos.integrations.modbus.services import SERVICES, SWITCH_SCHEMA, serve_switch_service, write_oneshot
from orbiteos.natures import serve

__all__ = ["CONFIG_SCHEMA", "DOMAIN", "LIVE_ONLY", "SERVICES", "async_setup"]

DOMAIN = "modbus"
# Talks to real devices: `orbiteos simulate` leaves it out.
LIVE_ONLY = True

_LOGGER = logging.getLogger(__name__)


@dataclass
class ModbusData:
    """What the integration keeps in `hub.data["modbus"]`."""

    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    pollers: dict[tuple[str, int], DevicePoller] = field(default_factory=dict)
    entities: dict[str, PolledEntity] = field(default_factory=dict)


_ENTITY_CLASSES: dict[str, Any] = {
    "sensors": ModbusSensor,
    "binary_sensors": ModbusBinarySensor,
    "switches": ModbusSwitch,
    "battery": ModbusBattery,
    "pv": ModbusPV,
    "meter": ModbusMeter,
}


def entity_ids(config: list[dict[str, Any]]) -> list[str]:
    """The entities a validated `modbus:` block creates, for `orbiteos check`."""
    return [f"{domain}.{slugify(item['name'])}" for hub_config in config
            for key, domain in ENTITY_KEYS.items() for item in hub_config.get(key, [])]


async def async_setup(hub: Hub, config: list[dict[str, Any]]) -> None:
    """Create the entities, start one polling task per device and register the services."""
    data: ModbusData = hub.data.setdefault(DOMAIN, ModbusData())
    for hub_config in config:
        endpoint = Endpoint(
            name=hub_config["name"],
            host=hub_config["host"],
            port=hub_config["port"],
            timeout=hub_config["timeout"],
            delay=hub_config["delay"],
            message_wait=hub_config["message_wait_milliseconds"] / 1000.0,
            retry_max=hub_config["retry_max"],
            max_gap=hub_config["max_gap"],
        )
        data.endpoints[endpoint.name] = endpoint
        by_device: dict[int, list[PolledEntity]] = {}
        for key, cls in _ENTITY_CLASSES.items():
            for item in hub_config.get(key, []):
                entity = cls(hub, item)
                data.entities[entity.entity_id] = entity
                by_device.setdefault(entity.device_id, []).append(entity)
        for unit, entities in by_device.items():
            poller = DevicePoller(hub, endpoint, unit, entities)
            data.pollers[(endpoint.name, unit)] = poller
            hub.create_task(poller.run(), name=f"modbus:{endpoint.name}:{unit}")
            hub.on_stop(poller.stop)
            _LOGGER.info("%s: polling %d entities in %d blocks", poller.label, len(entities),
                         sum(len(g.blocks) for g in poller.groups))
    _register_services(hub, data)


def _register_services(hub: Hub, data: ModbusData) -> None:
    async def write_register(call: ServiceCall) -> None:
        await _write(data, call, registers=list(call.data["value"]))

    async def write_coil(call: ServiceCall) -> None:
        await _write(data, call, coils=list(call.data["state"]))

    hub.services.register(DOMAIN, "write_register", write_register, SERVICES[DOMAIN]["write_register"])
    hub.services.register(DOMAIN, "write_coil", write_coil, SERVICES[DOMAIN]["write_coil"])

    batteries = {e: x for e, x in data.entities.items() if isinstance(x, ModbusBattery)}
    pvs = {e: x for e, x in data.entities.items() if isinstance(x, ModbusPV)}
    switches = {e: x for e, x in data.entities.items() if isinstance(x, ModbusSwitch)}
    if batteries:
        hub.on_stop(serve(hub, "battery", "modbus", batteries))
    if pvs:
        hub.on_stop(serve(hub, "pv", "modbus", pvs))
    if switches:
        for service, on in (("turn_on", True), ("turn_off", False), ("toggle", None)):
            hub.on_stop(serve_switch_service(
                hub, service, SWITCH_SCHEMA,
                {e: _call(lambda c, x=x, on=on: x.turn(x.native_state != "on" if on is None else on))
                 for e, x in switches.items()},
            ))


def _call(handler: Any) -> Any:
    async def run(call: ServiceCall) -> None:
        await handler(call)

    return run


async def _write(data: ModbusData, call: ServiceCall, *, registers: list[int] | None = None,
                 coils: list[bool] | None = None) -> None:
    name, unit, address = call.data["hub"], call.data["device_id"], call.data["address"]
    endpoint = data.endpoints.get(name)
    if endpoint is None:
        raise ServiceValidationError(f"modbus: no hub named {name!r}; known: {', '.join(data.endpoints) or 'none'}")
    poller = data.pollers.get((name, unit))
    if poller is None:
        client = ModbusClient(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        await write_oneshot(client, unit, address, registers=registers, coils=coils)
    elif coils is not None:
        await poller.write_coils(address, coils)
        poller.request_refresh()
    else:
        await poller.write_registers(address, registers or [])
        poller.request_refresh()
