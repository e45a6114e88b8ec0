"""Modbus TCP servers for `orbiteos sim-devices`: the simulated PV inverter (SunSpec map, port 5020)
and battery (OrbitEOS battery map, port 5021).

Register values follow the simulated entities' states; a write to a control register becomes the
service call a real device would act on (`pv.set_limit`, `battery.set_power`, `battery.auto`), and
the write is answered with an exception code when the service refuses it.

Each device falls back by itself, as real firmware does: the inverter lifts its limit when
`WMaxLimPct_RvrtTms` seconds pass without a new limit write (SunSpec model 123), and the battery
goes back to automatic when its `watchdog` seconds pass without a setpoint or watchdog write.

Plug-in contract of `sim-devices`: `add_arguments(parser)` and `async serve(hub, args)`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Event, Hub, State
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations.modbus.profiles import orbiteos_battery as bat
from orbiteos.integrations.modbus.profiles import sunspec as ss
from orbiteos.integrations.modbus.registers import pack, unpack

_LOGGER = logging.getLogger(__name__)

Image = dict[int, int]
WriteHandler = Callable[["DeviceServer", Image, Image], Awaitable[ExcCodes | None]]


# --- register images from states --------------------------------------------------------------


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _put(image: Image, address: int, registers: list[int]) -> None:
    for offset, register in enumerate(registers):
        image[address + offset] = register


def _with_sf(value: float, data_type: str, min_sf: int) -> tuple[list[int], int]:
    """Registers and SunSpec scale factor for `value` (as fine as `min_sf` allows, coarser if it must)."""
    limit = {"int16": 32767, "uint16": 65535, "uint32": 4294967295}[data_type]
    sf = min_sf
    while abs(round(value / 10.0**sf)) > limit and sf < 10:
        sf += 1
    raw = round(value / 10.0**sf)
    if data_type != "int16":
        raw = max(0, raw)
    return pack(raw, data_type), sf


def _sunspec_frame(device_id: int) -> Image:
    image: Image = dict.fromkeys(range(ss.BASE, ss.END + 2), 0)
    _put(image, ss.BASE, list(ss.SUNS))
    for model, start in ((ss.MODEL_COMMON, ss.COMMON), (ss.MODEL_INVERTER, ss.INVERTER),
                         (ss.MODEL_NAMEPLATE, ss.NAMEPLATE), (ss.MODEL_CONTROLS, ss.IMMEDIATE)):
        _put(image, start - 2, list(model))
    for name, text in (("Mn", "OrbitEOS"), ("Md", "Simulated PV inverter"), ("Vr", "1.0"), ("SN", "SIM-PV")):
        address, count = ss.COMMON_POINTS[name]
        _put(image, address, pack(text, "string", count=count))
    _put(image, ss.COMMON_POINTS["DA"][0], [device_id])
    _put(image, ss.END, [0xFFFF, 0])
    _put(image, ss.WMAXLIMPCT_SF, pack(-1, "int16"))
    return image


def pv_image(state: State, device_id: int) -> Image:
    """The SunSpec registers of a `pv.*` state (kW and kWh in the state, W and Wh on the wire)."""
    image = _sunspec_frame(device_id)
    attrs = state.attributes
    power_w = _number(state.state) * 1000.0
    rating_w = _number(attrs.get("inverter_kw", attrs.get("peak_power_kw"))) * 1000.0
    limit_w = _number(attrs.get("limit_kw"), rating_w / 1000.0) * 1000.0
    for value, address, sf_address, data_type, min_sf in (
        (power_w, ss.W, ss.W_SF, "int16", 0),
        (_number(attrs.get("energy_kwh")) * 1000.0, ss.WH, ss.WH_SF, "uint32", 0),
        (_number(attrs.get("dc_voltage")), ss.DCV, ss.DCV_SF, "uint16", -1),
        (_number(attrs.get("temperature_c")), ss.TMP_CAB, ss.TMP_SF, "int16", -1),
        (rating_w, ss.WRTG, ss.WRTG_SF, "uint16", 0),
    ):
        registers, sf = _with_sf(value, data_type, min_sf)
        _put(image, address, registers)
        _put(image, sf_address, pack(sf, "int16"))
    limited = rating_w > 0 and limit_w < rating_w - 0.5
    percent = 100.0 * limit_w / rating_w if limited else 100.0
    _put(image, ss.WMAXLIMPCT, pack(round(percent * 10), "uint16"))  # WMaxLimPct_SF is -1
    _put(image, ss.WMAXLIM_ENA, [1 if limited else 0])
    throttled = limited and power_w >= limit_w - 1.0
    _put(image, ss.ST, [5 if throttled else 4 if power_w > 0 else 2])
    return image


def battery_image(state: State, device_id: int) -> Image:
    """The OrbitEOS battery registers of a `battery.*` state."""
    image: Image = dict.fromkeys(range(bat.SIZE), 0)
    attrs = state.attributes
    setpoint = attrs.get("setpoint_kw")
    for attribute, value in (
        ("power", _number(state.state)),
        ("soc", _number(attrs.get("soc"))),
        ("soh", _number(attrs.get("soh"), 100.0)),
        ("capacity_kwh", _number(attrs.get("capacity_kwh"))),
        ("max_charge_kw", _number(attrs.get("max_charge_kw"))),
        ("max_discharge_kw", _number(attrs.get("max_discharge_kw"))),
        ("cycles", _number(attrs.get("cycles"))),
        ("temperature_c", _number(attrs.get("temperature_c"))),
        ("setpoint_kw", _number(setpoint)),
    ):
        spec = bat.REGISTERS[attribute]
        raw = round(value / spec["scale"])
        if spec["data_type"].startswith("u"):
            raw = max(0, raw)
        _put(image, spec["address"], pack(raw, spec["data_type"]))
    _put(image, bat.MODE, [0 if setpoint is None else 1])
    return image


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
    if any(not ss.IMMEDIATE <= a < ss.WMAXLIMPCT_SF for a in written):
        return ExcCodes.ILLEGAL_ADDRESS
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
        image_of: Callable[[State, int], Image],
        on_write: WriteHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        device_id: int = 1,
        kept: tuple[int, ...] = (),
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
        # Control registers the device remembers whatever its state says (revert timers).
        self.kept: Image = dict.fromkeys(kept, 0)
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
        self.image = self.image_of(state, self.device_id)
        base, size = min(self.image), len(self.image)
        device = SimDevice(
            self.device_id,
            simdata=[SimData(base, count=size, values=0, datatype=DataType.REGISTERS)],
            action=self._action,
        )
        self._server = ModbusTcpServer(device, address=(self.host, self.port))
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
        self.image = {**self.image_of(state, self.device_id), **self.kept}
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
        if not self.online:
            return ExcCodes.DEVICE_FAILURE
        if values is None:
            return None
        written: Image = {address + i: int(v) for i, v in enumerate(values)}
        result = await self.on_write(self, written, {**self.image, **written})
        if result is None:
            self.image.update(written)
            self.kept.update((a, v) for a, v in written.items() if a in self.kept)
        return result


def _first_entity(hub: Hub, domain: str) -> str | None:
    """The first `domain.*` entity with a state, else the first such device the simulator declares."""
    ids = sorted(hub.states.entity_ids(domain))
    if not ids:
        declared = getattr(hub.data.get("sim"), "entity_ids", None) or []
        ids = sorted(e for e in declared if e.startswith(domain + "."))
    return ids[0] if ids else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Modbus TCP (PV inverter with the SunSpec map, battery with the OrbitEOS map)")
    group.add_argument("--no-modbus", action="store_true", help="do not serve the simulated devices over Modbus")
    group.add_argument("--modbus-host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    group.add_argument("--modbus-pv-port", type=int, default=5020, help="PV inverter port (default 5020)")
    group.add_argument("--modbus-battery-port", type=int, default=5021, help="battery port (default 5021)")
    group.add_argument("--modbus-pv-entity", help="pv entity to serve (default: the first pv.*)")
    group.add_argument("--modbus-battery-entity", help="battery entity to serve (default: the first battery.*)")
    group.add_argument("--modbus-device-id", type=int, default=1, help="Modbus unit id of both devices (default 1)")


DEVICES: Mapping[str, tuple[Callable[[State, int], Image], WriteHandler, tuple[int, ...]]] = {
    "pv": (pv_image, pv_write, (ss.WMAXLIMPCT_RVRTTMS,)),
    "battery": (battery_image, battery_write, (bat.WATCHDOG_S,)),
}


async def serve(hub: Hub, args: argparse.Namespace) -> None:
    """Serve the simulated PV inverter and battery until cancelled."""
    if getattr(args, "no_modbus", False):
        return
    servers: list[DeviceServer] = []
    try:
        for domain, port in (("pv", args.modbus_pv_port), ("battery", args.modbus_battery_port)):
            entity_id = getattr(args, f"modbus_{domain}_entity") or _first_entity(hub, domain)
            if entity_id is None:
                _LOGGER.warning("modbus sim: no %s entity in the simulation; not serving one", domain)
                continue
            image_of, on_write, kept = DEVICES[domain]
            server = DeviceServer(hub, entity_id, image_of, on_write, host=args.modbus_host, port=port,
                                  device_id=args.modbus_device_id, kept=kept)
            await server.start()
            servers.append(server)
        await asyncio.Event().wait()
    finally:
        for server in servers:
            await server.stop()
