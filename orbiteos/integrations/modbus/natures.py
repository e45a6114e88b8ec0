"""Device natures on Modbus: a `battery:` or `pv:` entry names the registers behind each attribute
of the nature (DESIGN.md) and the control registers behind its services. The entities implement
the nature Protocols (`orbiteos.natures`), which validate and route the calls.

Conventions of the control registers: battery `mode` 0 = automatic, 1 = follow `set_power`,
`watchdog` seconds before the battery falls back to automatic by itself; pv `limit_enable` 1 =
limit active, 0 = no limit (SunSpec WMaxLim_Ena), `limit_revert_s` seconds before the inverter
lifts the limit by itself (SunSpec WMaxLimPct_RvrtTms).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orbiteos.core import Hub
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations.modbus.entities import Images, PolledEntity, value_spans, value_spec
from orbiteos.integrations.modbus.planner import Span
from orbiteos.integrations.modbus.registers import ValueSpec, decode, encode
from orbiteos.natures import Command

if TYPE_CHECKING:
    from orbiteos.integrations.modbus.poller import DevicePoller

_LOGGER = logging.getLogger(__name__)

# Values a nature entry may give in the YAML instead of reading them.
CONSTANTS = ("peak_power_kw", "inverter_kw", "capacity_kwh")
MODE_AUTO = 0
MODE_MANUAL = 1


@dataclass(frozen=True)
class NatureSpec:
    domain: str
    attributes: tuple[str, ...]  # readable values; `power` is the state, in kW
    helpers: tuple[str, ...]  # readable values used to derive others, not shown as attributes
    controls: tuple[str, ...]  # registers the services write


NATURE_MAPS: dict[str, NatureSpec] = {
    "battery": NatureSpec(
        "battery",
        ("power", "soc", "soh", "capacity_kwh", "max_charge_kw", "max_discharge_kw", "setpoint_kw", "cycles",
         "temperature_c", "mode"),
        (),
        ("set_power", "mode", "watchdog"),
    ),
    "pv": NatureSpec(
        "pv",
        ("power", "energy_kwh", "peak_power_kw", "inverter_kw", "limit_kw", "dc_voltage", "temperature_c",
         "limit_percent", "limit_enable"),
        ("limit_percent", "limit_enable"),
        ("limit_percent", "limit_enable", "limit_power", "limit_revert_s"),
    ),
    "meter": NatureSpec(
        "meter",
        ("power", "import_kwh", "export_kwh", "frequency_hz",
         *(f"{q}_l{p}" for q in ("voltage", "current", "power") for p in (1, 2, 3))),
        (),
        (),
    ),
}


class NatureEntity(PolledEntity):
    """A battery or PV inverter whose attributes and setpoints live in registers."""

    def __init__(self, hub: Hub, nature: str, config: Mapping[str, Any]) -> None:
        super().__init__(hub, nature, config)
        self.nature = NATURE_MAPS[nature]
        from orbiteos.integrations.modbus.profiles import PROFILES

        registers: dict[str, Any] = {}
        controls: dict[str, Any] = {}
        if config.get("profile"):
            profile = PROFILES[config["profile"]]
            registers.update(profile.registers)
            controls.update(profile.controls)
        registers.update(config.get("registers", {}))
        for name, spec in config.get("controls", {}).items():
            if spec is None:
                controls.pop(name, None)
            else:
                controls[name] = spec
        self.registers: dict[str, ValueSpec] = {k: value_spec(v) for k, v in registers.items()}
        self.controls: dict[str, ValueSpec] = {k: value_spec(v) for k, v in controls.items()}
        self.constants = {k: float(config[k]) for k in CONSTANTS if k in config}
        self.unit_of_measurement = "kW"
        self.values: dict[str, Any] = {}
        self.last_images: dict[str, dict[int, Any]] = {}
        self.ownership: dict[str, Any] = {}

    @property
    def attributes(self) -> Mapping[str, Any]:
        return {**super().attributes, **self.ownership} if self.ownership else super().attributes

    def spans(self) -> list[Span]:
        spans: list[Span] = []
        for spec in self.registers.values():
            spans.extend(value_spans(spec))
        for spec in self.controls.values():
            # Scale factors of the controls are needed to encode a setpoint.
            if spec.sf_address is not None:
                spans.append(Span(spec.input_type, spec.sf_address, spec.sf_address + 1))
        return spans

    def read(self, images: Images) -> None:
        values = {name: decode(spec, images[spec.input_type]) for name, spec in self.registers.items()}
        values.update(self.constants)
        self.values = values
        self.last_images = {table: dict(image) for table, image in images.items()}
        self.native_state = values.get("power")
        self.extra_attributes = {
            k: v for k, v in self.derived(values).items() if k != "power" and k not in self.nature.helpers
        } | {k: v for k, v in self.extra_attributes.items() if k in ("device_class", "state_class")}

    def derived(self, values: dict[str, Any]) -> dict[str, Any]:
        return values

    def _poller(self) -> DevicePoller:
        if self.poller is None:
            raise ServiceValidationError(f"{self.entity_id}: not attached to a device")
        return self.poller

    def _accept(self, command: Command) -> None:
        """After a write: the next poll's state write carries the call's context and ownership."""
        self.ownership = dict(command.attributes)
        self.set_context(command.context)
        self._poller().request_refresh()

    async def write_revert_timer(self, name: str, command: Command) -> None:
        """The device-side fallback, written with every setpoint when the device has the register."""
        if name in self.controls and command.revert_s is not None:
            await self.write_control(name, min(65535, max(1, round(command.revert_s))))

    async def write_control(self, name: str, value: float) -> None:
        spec = self.controls.get(name)
        if spec is None:
            raise ServiceValidationError(f"{self.entity_id}: no {name} register is mapped")
        self._poller()
        try:
            registers = encode(spec, value, self.last_images.get(spec.input_type, {}))
        except ValueError as err:
            raise ServiceValidationError(f"{self.entity_id}: {name} = {value}: {err}") from None
        await self._poller().write_registers(spec.address, registers)


class ModbusBattery(NatureEntity):
    def __init__(self, hub: Hub, config: Mapping[str, Any]) -> None:
        super().__init__(hub, "battery", config)

    def derived(self, values: dict[str, Any]) -> dict[str, Any]:
        """`mode` as the simulator shows it (auto / manual); no setpoint while in auto."""
        if "mode" not in values:
            return values
        auto = values["mode"] == MODE_AUTO
        values = {**values, "mode": "auto" if auto else "manual"}
        if auto and "setpoint_kw" in values:
            values["setpoint_kw"] = None
        return values

    async def set_power(self, power_kw: float, command: Command) -> None:
        # The watchdog first: a battery must never hold a setpoint it would not let go of.
        await self.write_revert_timer("watchdog", command)
        if "mode" in self.controls:
            await self.write_control("mode", MODE_MANUAL)
        await self.write_control("set_power", power_kw)
        _LOGGER.info("%s: setpoint %.3f kW written", self.entity_id, power_kw)
        self._accept(command)

    async def auto(self, command: Command) -> None:
        if "mode" not in self.controls:
            await self.write_control("set_power", 0.0)
        else:
            await self.write_control("mode", MODE_AUTO)
        self._accept(command)


class ModbusMeter(NatureEntity):
    """A grid meter: power + import / - export, kW; energy counters, frequency and phases."""

    def __init__(self, hub: Hub, config: Mapping[str, Any]) -> None:
        super().__init__(hub, "meter", config)


class ModbusPV(NatureEntity):
    def __init__(self, hub: Hub, config: Mapping[str, Any]) -> None:
        super().__init__(hub, "pv", config)

    def derived(self, values: dict[str, Any]) -> dict[str, Any]:
        if "limit_kw" in values or "limit_percent" not in values:
            return values
        rating = _rating(values)
        if rating is None:
            return values
        enabled = values.get("limit_enable", 1) == 1
        limit = rating * float(values["limit_percent"]) / 100.0 if enabled else rating
        return {**values, "limit_kw": round(limit, 6)}

    async def set_limit(self, power_kw: float | None, percent: float | None, command: Command) -> None:
        rating = _rating(self.values)
        await self.write_revert_timer("limit_revert_s", command)
        if "limit_power" in self.controls:
            if power_kw is None:
                if rating is None:
                    raise ServiceValidationError(f"{self.entity_id}: percent needs the inverter rating (unknown)")
                power_kw = rating * float(percent or 0.0) / 100.0
            await self.write_control("limit_power", power_kw)
        else:
            if percent is None:
                if not rating:
                    raise ServiceValidationError(f"{self.entity_id}: power_kw needs the inverter rating (unknown)")
                percent = 100.0 * float(power_kw or 0.0) / rating
            await self.write_control("limit_percent", percent)
            if "limit_enable" in self.controls:
                await self.write_control("limit_enable", 1)
        _LOGGER.info("%s: limit %s written", self.entity_id,
                     f"{power_kw:.3f} kW" if power_kw is not None else f"{percent:.1f} %")
        self._accept(command)


def _rating(values: dict[str, Any]) -> float | None:
    """What a limit in percent refers to: the inverter's AC rating, else the array's peak."""
    rating = values.get("inverter_kw", values.get("peak_power_kw"))
    return None if rating is None else float(rating)
