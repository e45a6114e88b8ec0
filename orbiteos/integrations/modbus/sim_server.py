"""Modbus TCP servers for `orbiteos sim-devices`: the simulated PV inverter (SunSpec map, port 5020),
battery (OrbitEOS battery map, port 5021) and grid meter (SunSpec model 203, port 5022).

Register values follow the simulated entities' states; a write to a control register becomes the
service call a real device would act on (`pv.set_limit`, `battery.set_power`, `battery.auto`), and
the write is answered with an exception code when the service refuses it.

Each device falls back by itself, as real firmware does: the inverter lifts its limit when
`WMaxLimPct_RvrtTms` seconds pass without a new limit write (SunSpec model 123), and the battery
goes back to automatic when its `watchdog` seconds pass without a setpoint or watchdog write.

As a conforming device does: only the holding-register functions are served (3, 6, 16, 23; others
are exception 1), a read of 0 or more than 125 registers is exception 3, a request for another unit id
is exception 11 (gateway target did not respond), and control registers keep what was written to
them (a `WMaxLimPct` written before `WMaxLim_Ena` is still there when the enable comes).

Plug-in contract of `sim-devices`: `add_arguments(parser)` and `async serve(hub, args)`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Event, Hub, State
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations.modbus.profiles import orbiteos_battery as bat
from orbiteos.integrations.modbus.profiles import sunspec as ss
from orbiteos.integrations.modbus.registers import unpack
from orbiteos.integrations.modbus.sim_images import (
    IMMEDIATE_IMPLEMENTED,
    Image,
    battery_image,
    meter_image,
    pv_image,
)

_LOGGER = logging.getLogger(__name__)

ImageOf = Callable[[State, int, Hub], Image]
WriteHandler = Callable[["DeviceServer", Image, Image], Awaitable[ExcCodes | None]]


# --- writes to control registers ----------------------------------------------------------------


async def _call(server: DeviceServer, domain: str, service: str, data: dict[str, Any]) -> ExcCodes | None:
    try:
        await server.hub.services.call(domain, service, {"entity_id": server.entity_id, **data})
    except ServiceValidationError as err:
        _LOGGER.warning("%s: %s.%s refused: %s", server.label, domain, service, err)
        return ExcCodes.ILLEGAL_VALUE
    except Exception:
        _LOGGER.exception("%s: %s.%s failed", server.label, domain, service)
        return ExcCodes.DEVICE_FAILURE
    _LOGGER.info("%s: %s.%s %s", server.label, domain, service, data)
    return None


async def pv_write(server: DeviceServer, written: Image, image: Image) -> ExcCodes | None:
    """Model 123 is writable; WMaxLimPct with WMaxLim_Ena becomes pv.set_limit."""
    if any(a not in IMMEDIATE_IMPLEMENTED or a == ss.WMAXLIMPCT_SF for a in written):
        return ExcCodes.ILLEGAL_ADDRESS  # read-only or not implemented
    if ss.WMAXLIMPCT not in written and ss.WMAXLIM_ENA not in written:
        return None
    server.arm_revert(image.get(ss.WMAXLIMPCT_RVRTTMS, 0), "pv", "set_limit", {"percent": 100.0})
    enabled = image[ss.WMAXLIM_ENA]
    if enabled not in (0, 1):
        return ExcCodes.ILLEGAL_VALUE
    if not enabled:
        # Percent written while the limit is off waits for WMaxLim_Ena; switching it off lifts the limit.
        return await _call(server, "pv", "set_limit", {"percent": 100.0}) if ss.WMAXLIM_ENA in written else None
    sf = int(unpack([image[ss.WMAXLIMPCT_SF]], "int16"))
    percent = image[ss.WMAXLIMPCT] * 10.0**sf
    if percent > 100.0:
        return ExcCodes.ILLEGAL_VALUE
    return await _call(server, "pv", "set_limit", {"percent": round(percent, 3)})


async def battery_write(server: DeviceServer, written: Image, image: Image) -> ExcCodes | None:
    """mode 0 becomes battery.auto; a setpoint becomes battery.set_power."""
    if any(a not in (bat.MODE, bat.SETPOINT_W, bat.SETPOINT_W + 1, bat.WATCHDOG_S) for a in written):
        return ExcCodes.ILLEGAL_ADDRESS
    if bat.MODE in written and image[bat.MODE] not in (0, 1):
        return ExcCodes.ILLEGAL_VALUE
    # Every write to the controls feeds the watchdog; in automatic mode there is nothing to watch.
    automatic = bat.MODE in written and image[bat.MODE] == 0
    server.arm_revert(0 if automatic else image.get(bat.WATCHDOG_S, 0), "battery", "auto", {})
    if bat.MODE in written and image[bat.MODE] == 0:
        return await _call(server, "battery", "auto", {})
    if bat.SETPOINT_W in written or bat.SETPOINT_W + 1 in written:
        watts = unpack([image[bat.SETPOINT_W], image[bat.SETPOINT_W + 1]], "int32")
        return await _call(server, "battery", "set_power", {"power_kw": float(watts) / 1000.0})
    return None


# --- the servers -------------------------------------------------------------------------------


class DeviceServer:
    """A Modbus TCP server whose registers mirror one entity and whose writes call its services."""

    def __init__(
        self,
        hub: Hub,
        entity_id: str,
        image_of: ImageOf,
        on_write: WriteHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        device_id: int = 1,
        keeps: Callable[[int], bool] = lambda _address: False,
    ) -> None:
        self.hub = hub
        self.entity_id = entity_id
        self.image_of = image_of
        self.on_write = on_write
        self.host = host
        self.port = port
        self.device_id = device_id
        self.label = f"modbus sim {entity_id} ({host}:{port})"
        self.image: Image = {}
        # Control registers the device remembers as written, whatever its state says (`keeps`).
        self.keeps = keeps
        self.kept: Image = {}
        self._revert: asyncio.TimerHandle | None = None
        self.online = False
        self._updating = False
        self._server: ModbusTcpServer | None = None
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        # Until the entity has a state, the device answers "server device failure".
        state = self.hub.states.get(self.entity_id) or State(
            self.entity_id, STATE_UNAVAILABLE, last_updated=self.hub.clock.now()
        )
        self.image = self.image_of(state, self.device_id, self.hub)
        base, size = min(self.image), len(self.image)
        device = SimDevice(
            self.device_id,
            simdata=[SimData(base, count=size, values=0, datatype=DataType.REGISTERS)],
            action=self._action,
        )
        self._server = ModbusTcpServer(device, address=(self.host, self.port), custom_pdu=[CheckedReadRegisters])
        self._server.context = OneDevice(device)
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr,attr-defined]
        self.label = f"modbus sim {self.entity_id} ({self.host}:{self.port})"
        await self._apply(state)
        self._unsubscribe = self.hub.states.listen(self.entity_id, self._state_changed)
        _LOGGER.info("%s: serving registers %d..%d as device %d", self.label, base, base + size - 1, self.device_id)

    def arm_revert(self, seconds: int, domain: str, service: str, data: dict[str, Any]) -> None:
        """(Re)start the device's own fallback timer; 0 seconds disarms it."""
        if self._revert is not None:
            self._revert.cancel()
            self._revert = None
        if seconds > 0:
            self._revert = self.hub.clock.call_later(seconds, self._fall_back, domain, service, data, seconds)

    def _fall_back(self, domain: str, service: str, data: dict[str, Any], seconds: int) -> None:
        self._revert = None
        _LOGGER.warning("%s: no control write for %d s; falling back by itself (%s.%s)", self.label, seconds,
                        domain, service)
        self.hub.create_task(_call(self, domain, service, data), name=f"{self.label} fallback")

    async def stop(self) -> None:
        if self._revert is not None:
            self._revert.cancel()
            self._revert = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    def _state_changed(self, event: Event) -> Awaitable[None] | None:
        state = event.data.get("new_state")
        if state is None:
            self.online = False
            return None
        return self._apply(state)

    async def _apply(self, state: State) -> None:
        self.online = state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
        if not self.online or self._server is None:
            return
        self.image = {**self.image_of(state, self.device_id, self.hub), **self.kept}
        base = min(self.image)
        registers = [self.image[a] for a in range(base, base + len(self.image))]
        self._updating = True
        try:
            await self._server.async_setValues(self.device_id, 16, base, registers)
        finally:
            self._updating = False

    async def _action(
        self, function_code: int, start: int, address: int, count: int, registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if self._updating:
            return None
        if function_code not in HOLDING_FUNCTIONS:
            return ExcCodes.ILLEGAL_FUNCTION  # no coils, discrete inputs or input registers here
        if not self.online:
            return ExcCodes.DEVICE_FAILURE
        if values is None:
            return None
        written: Image = {address + i: int(v) for i, v in enumerate(values)}
        result = await self.on_write(self, written, {**self.image, **written})
        if result is None:
            self.image.update(written)
            self.kept.update((a, v) for a, v in written.items() if self.keeps(a))
        return result


# Read holding registers (3), write one (6), write several (16), read/write several (23).
HOLDING_FUNCTIONS = frozenset({3, 6, 16, 23})


class CheckedReadRegisters(ReadHoldingRegistersRequest):
    """Function 3 whose count out of 1..125 is answered 0x83 exception 3, as the standard says
    (pymodbus's decoder refuses it as an unknown function, 0x80 exception 1)."""

    def decode(self, data: bytes) -> None:
        self.address, self.count = struct.unpack(">HH", data[:4])

    async def datastore_update(self, context: Any, device_id: int) -> ModbusPDU:
        if not 1 <= self.count <= self.MAX_COUNT:
            return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_VALUE)
        return await super().datastore_update(context, device_id)


class OneDevice(SimCore):
    """The simulator's datastore answering only its own unit id: another is exception 11 (gateway
    target failed to respond), where pymodbus's would fall back to a default device or fail
    with a traceback per request."""

    def __init__(self, device: SimDevice) -> None:
        super().__init__(device)
        self.device_id = device.id

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        if device_id != self.device_id:
            return ExcCodes.GATEWAY_NO_RESPONSE
        return await super().async_getValues(device_id, func_code, address, count)

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: list[int] | list[bool]) -> ExcCodes | None:
        if device_id != self.device_id:
            return ExcCodes.GATEWAY_NO_RESPONSE
        return await super().async_setValues(device_id, func_code, address, values)


def _first_entity(hub: Hub, domain: str) -> str | None:
    """The first `domain.*` entity with a state, else the first such device the simulator declares."""
    ids = sorted(hub.states.entity_ids(domain))
    if not ids:
        declared = getattr(hub.data.get("sim"), "entity_ids", None) or []
        ids = sorted(e for e in declared if e.startswith(domain + "."))
    return ids[0] if ids else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Modbus TCP (PV inverter and grid meter with the SunSpec maps, battery with the OrbitEOS map)"
    )
    group.add_argument("--no-modbus", action="store_true", help="do not serve the simulated devices over Modbus")
    group.add_argument("--modbus-host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    group.add_argument("--modbus-pv-port", type=int, default=5020, help="PV inverter port (default 5020)")
    group.add_argument("--modbus-battery-port", type=int, default=5021, help="battery port (default 5021)")
    group.add_argument("--modbus-meter-port", type=int, default=5022, help="grid meter port (default 5022)")
    group.add_argument("--modbus-pv-entity", help="pv entity to serve (default: the first pv.*)")
    group.add_argument("--modbus-battery-entity", help="battery entity to serve (default: the first battery.*)")
    group.add_argument("--modbus-meter-entity", help="meter entity to serve (default: the first meter.*)")
    group.add_argument("--modbus-device-id", type=int, default=1, help="Modbus unit id of the devices (default 1)")


async def meter_write(server: DeviceServer, written: Image, image: Image) -> ExcCodes | None:
    """A meter has nothing to write."""
    return ExcCodes.ILLEGAL_ADDRESS


def _keeps_limit_points(address: int) -> bool:
    """Model 123's written points stay as written; WMaxLim_Ena follows the limit actually in force."""
    return address in IMMEDIATE_IMPLEMENTED and address != ss.WMAXLIM_ENA


# domain -> (image, write handler, which written registers the device keeps, default port)
DEVICES: Mapping[str, tuple[ImageOf, WriteHandler, Callable[[int], bool]]] = {
    "pv": (pv_image, pv_write, _keeps_limit_points),
    "battery": (battery_image, battery_write, lambda address: address == bat.WATCHDOG_S),
    "meter": (meter_image, meter_write, lambda _address: False),
}


async def serve(hub: Hub, args: argparse.Namespace) -> None:
    """Serve the simulated PV inverter, battery and grid meter until cancelled."""
    if getattr(args, "no_modbus", False):
        return
    servers: list[DeviceServer] = []
    try:
        for domain in DEVICES:
            port = getattr(args, f"modbus_{domain}_port")
            entity_id = getattr(args, f"modbus_{domain}_entity") or _first_entity(hub, domain)
            if entity_id is None:
                _LOGGER.warning("modbus sim: no %s entity in the simulation; not serving one", domain)
                continue
            image_of, on_write, keeps = DEVICES[domain]
            server = DeviceServer(hub, entity_id, image_of, on_write, host=args.modbus_host, port=port,
                                  device_id=args.modbus_device_id, keeps=keeps)
            try:
                await server.start()
            except OSError as err:  # a port in use: this device is not served, the others are
                _LOGGER.error("modbus sim: cannot serve %s on %s:%s: %s", entity_id, args.modbus_host, port, err)
                continue
            servers.append(server)
        await asyncio.Event().wait()
    finally:
        for server in servers:
            await server.stop()
