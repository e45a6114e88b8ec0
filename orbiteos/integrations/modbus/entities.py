"""Sensors, binary sensors and switches backed by Modbus registers and coils.

A polled entity names the register spans it needs; after each poll it gets the register images
(table -> address -> value) of the blocks that were read, or learns that they could not be.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orbiteos.core import Hub
from orbiteos.entity import Entity, slugify
from orbiteos.integrations.modbus.planner import Span
from orbiteos.integrations.modbus.registers import RegisterDecodeError, ValueSpec, decode

if TYPE_CHECKING:
    from orbiteos.integrations.modbus.poller import DevicePoller

_LOGGER = logging.getLogger(__name__)

# table -> address -> register (int) or bit (bool), for the blocks read in this poll.
Images = Mapping[str, Mapping[int, Any]]


def value_spec(config: Mapping[str, Any]) -> ValueSpec:
    return ValueSpec(
        address=config["address"],
        data_type=config.get("data_type", "int16"),
        input_type=config.get("input_type", "holding"),
        count=config.get("count", 0),
        swap=config.get("swap", "none"),
        scale=config.get("scale", 1.0),
        offset=config.get("offset", 0.0),
        precision=config.get("precision"),
        sf_address=config.get("sf_address"),
    )


def value_spans(spec: ValueSpec) -> list[Span]:
    spans = [Span(spec.input_type, spec.address, spec.end)]
    if spec.sf_address is not None:
        spans.append(Span(spec.input_type, spec.sf_address, spec.sf_address + 1))
    return spans


class PolledEntity(Entity):
    """An entity whose value comes from a device's registers at `scan_interval`."""

    def __init__(self, hub: Hub, domain: str, config: Mapping[str, Any]) -> None:
        super().__init__(hub, f"{domain}.{slugify(config['name'])}", config["name"])
        self.device_id: int = config.get("device_id", 1)
        self.scan_interval: float = config.get("scan_interval", 15.0)
        self.poller: DevicePoller | None = None
        self.available = False
        self._problem: str | None = None
        self._problem_logged = False
        for key in ("device_class", "state_class"):
            if config.get(key):
                self.extra_attributes[key] = config[key]

    def spans(self) -> list[Span]:
        raise NotImplementedError

    def read(self, images: Images) -> None:
        """Take this poll's values; raises RegisterDecodeError when they make no sense."""
        raise NotImplementedError

    def update(self, images: Images) -> None:
        """Called after a poll: read the values, or go unavailable with a logged reason."""
        try:
            self.read(images)
        except (RegisterDecodeError, KeyError, ValueError) as err:
            self.mark_unavailable(f"bad value: {err}")
            return
        if self._problem is not None and self._problem_logged:
            _LOGGER.info("%s: readable again", self.entity_id)
        self._problem = None
        self._problem_logged = False
        self.available = True
        self.write_state()

    def mark_unavailable(self, reason: str, *, quiet: bool = False) -> None:
        """Go `unavailable`; the reason is logged once (`quiet` when the device already logged it)."""
        if self._problem != reason:
            _LOGGER.log(logging.DEBUG if quiet else logging.WARNING, "%s: unavailable: %s", self.entity_id, reason)
            self._problem = reason
            self._problem_logged = not quiet
        if self.available or self.hub.states.get(self.entity_id) is None:
            self.available = False
            self.write_state()


class ModbusSensor(PolledEntity):
    def __init__(self, hub: Hub, config: Mapping[str, Any]) -> None:
        super().__init__(hub, "sensor", config)
        self.spec = value_spec(config)
        self.unit_of_measurement = config.get("unit_of_measurement")

    def spans(self) -> list[Span]:
        return value_spans(self.spec)

    def read(self, images: Images) -> None:
        self.native_state = decode(self.spec, images[self.spec.input_type])


def _bit_spans(table: str, address: int) -> list[Span]:
    return [Span(table, address, address + 1)]


def _bit_value(images: Images, table: str, address: int) -> bool:
    value = images[table][address]
    return bool(value) if table in ("coil", "discrete_input") else value != 0


class ModbusBinarySensor(PolledEntity):
    """On when the coil or discrete input is set, or the register is not zero."""

    def __init__(self, hub: Hub, config: Mapping[str, Any]) -> None:
        super().__init__(hub, "binary_sensor", config)
        self.table: str = config.get("input_type", "coil")
        self.address: int = config["address"]

    def spans(self) -> list[Span]:
        return _bit_spans(self.table, self.address)

    def read(self, images: Images) -> None:
        self.native_state = "on" if _bit_value(images, self.table, self.address) else "off"


class ModbusSwitch(PolledEntity):
    """Writes command_on/command_off; with `verify:` it reads the state back, else it assumes it."""

    def __init__(self, hub: Hub, config: Mapping[str, Any]) -> None:
        super().__init__(hub, "switch", config)
        self.address: int = config["address"]
        self.write_type: str = config.get("write_type", "holding")
        self.command_on: int = config.get("command_on", 1)
        self.command_off: int = config.get("command_off", 0)
        verify = config.get("verify", False)
        self.verify = verify is not False
        verify = verify or {}
        self.verify_address: int = verify.get("address", self.address)
        self.verify_table: str = verify.get("input_type", "coil" if self.write_type == "coil" else "holding")
        self.state_on: int = verify.get("state_on", self.command_on)
        self.state_off: int = verify.get("state_off", self.command_off)
        self.native_state = "off"

    def spans(self) -> list[Span]:
        return _bit_spans(self.verify_table, self.verify_address) if self.verify else []

    def read(self, images: Images) -> None:
        if not self.verify:
            return
        value = images[self.verify_table][self.verify_address]
        if self.verify_table in ("coil", "discrete_input"):
            self.native_state = "on" if value else "off"
        elif value == self.state_on:
            self.native_state = "on"
        elif value == self.state_off:
            self.native_state = "off"
        else:
            raise RegisterDecodeError(
                f"register {self.verify_address} holds {value}, neither state_on {self.state_on} "
                f"nor state_off {self.state_off}"
            )

    async def turn(self, on: bool) -> None:
        if self.poller is None:
            raise RuntimeError(f"{self.entity_id} is not attached to a device")
        if self.write_type == "coil":
            await self.poller.write_coils(self.address, [on])
        else:
            await self.poller.write_registers(self.address, [self.command_on if on else self.command_off])
        if self.verify:
            self.poller.request_refresh()
        else:
            self.native_state = "on" if on else "off"
            self.write_state()
