"""Device natures on Modbus: a `battery:` or `pv:` entry names the registers behind each attribute
of the nature (DESIGN.md) and the control registers behind its services, so `battery.set_power`,
`battery.auto` and `pv.set_limit` act on a Modbus device exactly as on the simulator.

Conventions of the control registers: battery `mode` 0 = automatic, 1 = follow `set_power`;
pv `limit_enable` 1 = limit active, 0 = no limit (SunSpec WMaxLim_Ena).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orbiteos.core import Hub
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations.modbus.entities import Images, PolledEntity, value_spans, value_spec
from orbiteos.integrations.modbus.planner import Span
from orbiteos.integrations.modbus.registers import ValueSpec, decode, encode

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


NATURES: dict[str, NatureSpec] = {
    "battery": NatureSpec(
        "battery",
        ("power", "soc", "soh", "capacity_kwh", "max_charge_kw", "max_discharge_kw", "setpoint_kw", "cycles",
         "temperature_c", "mode"),
        (),
        ("set_power", "mode"),
    ),
    "pv": NatureSpec(
        "pv",
        ("power", "energy_kwh", "peak_power_kw", "inverter_kw", "limit_kw", "dc_voltage", "temperature_c",
         "limit_percent", "limit_enable"),
        ("limit_percent", "limit_enable"),
        ("limit_percent", "limit_enable", "limit_power"),
    ),
}


class NatureEntity(PolledEntity):
    """A battery or PV inverter whose attributes and setpoints live in registers."""

    def __init__(self, hub: Hub, nature: str, config: Mapping[str, Any]) -> None:
        super().__init__(hub, nature, config)
        self.nature = NATURES[nature]
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

    async def write_control(self, name: str, value: float) -> None:
        spec = self.controls.get(name)
        if spec is None:
            raise ServiceValidationError(f"{self.entity_id}: no {name} register is mapped")
        if self.poller is None:
            raise ServiceValidationError(f"{self.entity_id}: not attached to a device")
        try:
            registers = encode(spec, value, self.last_images.get(spec.input_type, {}))
        except ValueError as err:
            raise ServiceValidationError(f"{self.entity_id}: {name} = {value}: {err}") from None
        await self.poller.write_registers(spec.address, registers)


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

    async def set_power(self, power_kw: float) -> None:
        limit_charge = self.values.get("max_charge_kw")
        limit_discharge = self.values.get("max_discharge_kw")
        if limit_discharge is not None and power_kw > float(limit_discharge):
            raise ServiceValidationError(
                f"{self.entity_id}: power_kw {power_kw} exceeds max_discharge_kw {limit_discharge}"
            )
        if limit_charge is not None and power_kw < -float(limit_charge):
            raise ServiceValidationError(f"{self.entity_id}: power_kw {power_kw} exceeds max_charge_kw {limit_charge}")
        if "mode" in self.controls:
            await self.write_control("mode", MODE_MANUAL)
        await self.write_control("set_power", power_kw)
        _LOGGER.info("%s: setpoint %.3f kW written", self.entity_id, power_kw)
        self.poller.request_refresh()  # type: ignore[union-attr]

    async def auto(self) -> None:
        if "mode" not in self.controls:
            await self.write_control("set_power", 0.0)
        else:
            await self.write_control("mode", MODE_AUTO)
        self.poller.request_refresh()  # type: ignore[union-attr]


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

    async def set_limit(self, power_kw: float | None = None, percent: float | None = None) -> None:
        rating = _rating(self.values)
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
            percent = min(100.0, max(0.0, percent))
            await self.write_control("limit_percent", percent)
            if "limit_enable" in self.controls:
                await self.write_control("limit_enable", 1)
        _LOGGER.info("%s: limit %s written", self.entity_id,
                     f"{power_kw:.3f} kW" if power_kw is not None else f"{percent:.1f} %")
        self.poller.request_refresh()  # type: ignore[union-attr]


def _rating(values: dict[str, Any]) -> float | None:
    """What a limit in percent refers to: the inverter's AC rating, else the array's peak."""
    rating = values.get("inverter_kw", values.get("peak_power_kw"))
    return None if rating is None else float(rating)
