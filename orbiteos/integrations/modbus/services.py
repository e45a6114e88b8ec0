"""Services: `modbus.write_register`, `modbus.write_coil`, and `switch.turn_on|turn_off|toggle` for
the switches this integration owns. (The battery and pv natures are served by `orbiteos.natures`.)

The switch services are registered with `register_for_entities`: the registry hands this
integration only the Modbus entities of a call, and other integrations' entities to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import voluptuous as vol

from orbiteos.core import Hub, ServiceCall, Unsubscribe
from orbiteos.errors import DeviceUnavailable, ServiceValidationError
from orbiteos.integrations.modbus.client import ModbusClient, ModbusError, ModbusExceptionResponse
from orbiteos.integrations.modbus.schema import address, device_id
from orbiteos.natures.contract import SCHEMAS as NATURE_SCHEMAS
from orbiteos.validation import boolean, entity_ids, found, string

EntityHandler = Callable[[ServiceCall], Awaitable[Any]]


def _register_value(value: Any) -> int:
    problem = vol.Invalid(f"expected a register value 0-65535, found {found(value)}")
    if isinstance(value, bool):
        raise problem
    try:
        number = int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise problem from None
    if (isinstance(value, float) and number != value) or not 0 <= number <= 0xFFFF:
        raise problem
    return number


def _one_or_many(item: Callable[[Any], Any], most: int) -> Callable[[Any], list[Any]]:
    def validate(value: Any) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        if not 1 <= len(items) <= most:
            raise vol.Invalid(f"expected 1 to {most} values, found {len(items)}")
        return [item(v) for v in items]

    return validate


def _unit(data: dict[str, Any]) -> dict[str, Any]:
    if "slave" in data:
        data["device_id"] = data.pop("slave")
    data.setdefault("device_id", 1)
    return data


_TARGET: dict[Any, Any] = {vol.Required("entity_id"): entity_ids}

WRITE_REGISTER_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("hub"): string,
            vol.Required("address"): address,
            vol.Optional("device_id"): device_id,
            vol.Optional("slave"): device_id,
            vol.Required("value"): _one_or_many(_register_value, 123),
        }
    ),
    _unit,
)
WRITE_COIL_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("hub"): string,
            vol.Required("address"): address,
            vol.Optional("device_id"): device_id,
            vol.Optional("slave"): device_id,
            vol.Required("state"): _one_or_many(boolean, 1968),
        }
    ),
    _unit,
)
SWITCH_SCHEMA = vol.Schema(_TARGET)

# domain -> service -> schema: every service this integration can provide.
SERVICES: dict[str, dict[str, Any]] = {
    "modbus": {"write_register": WRITE_REGISTER_SCHEMA, "write_coil": WRITE_COIL_SCHEMA},
    "battery": dict(NATURE_SCHEMAS["battery"]),
    "pv": dict(NATURE_SCHEMAS["pv"]),
    "switch": {"turn_on": SWITCH_SCHEMA, "turn_off": SWITCH_SCHEMA, "toggle": SWITCH_SCHEMA},
}


def serve_switch_service(
    hub: Hub, service: str, schema: Any, targets: Mapping[str, EntityHandler]
) -> Unsubscribe:
    """Serve `switch.<service>` for the Modbus switches in `targets` (entity id -> handler)."""

    async def handle(call: ServiceCall) -> None:
        # One device that does not answer must not hold up or cancel the writes to the others.
        results = await asyncio.gather(*(targets[e](call) for e in call.entity_ids), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    return hub.services.register_for_entities("switch", service, handle, targets.__contains__, schema)


async def write_oneshot(client: ModbusClient, unit: int, address_: int, *,
                        registers: list[int] | None = None, coils: list[bool] | None = None) -> None:
    """A write to a device no entity polls: connect, write, close."""
    host, port = client.host, client.port
    try:
        async with client:
            if coils is not None:
                await client.write_coils(address_, coils, unit)
            else:
                await client.write_registers(address_, registers or [], unit)
    except ModbusExceptionResponse as err:
        raise ServiceValidationError(f"{host}:{port} device {unit} refused the write: {err}") from None
    except ModbusError as err:
        raise DeviceUnavailable(f"{host}:{port} device {unit}: {err}") from None
