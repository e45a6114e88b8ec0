"""The device-nature contract, defined once: the services of each controllable nature, their
schemas, units and sign rules, and the `Protocol` a device of that nature implements.

Units: kW, %, A. Signs: battery power is + discharge / - charge; PV and charger limits are >= 0.
Every provider (the simulator, Modbus, MQTT, OCPP) serves these through `natures.server`, so one
call gets one answer whatever the device is behind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import voluptuous as vol

from orbiteos.core import Context, State
from orbiteos.errors import ServiceValidationError
from orbiteos.validation import entity_ids, exactly_one_key, finite_number, string

# The controllable natures and the services each has; `meter` has none.
CONTROLLABLE = ("battery", "pv", "ev_charger")
NATURE_DOMAINS = ("meter", *CONTROLLABLE)


_TARGET: dict[Any, Any] = {vol.Required("entity_id"): entity_ids}

SCHEMAS: dict[str, dict[str, Any]] = {
    "battery": {
        # kW, + discharge / - charge
        "set_power": vol.Schema({**_TARGET, vol.Required("power_kw"): finite_number()}),
        "auto": vol.Schema(_TARGET),
    },
    "pv": {
        "set_limit": vol.All(
            vol.Schema({
                **_TARGET,
                vol.Optional("power_kw"): finite_number(0.0),
                vol.Optional("percent"): finite_number(0.0, 100.0),
            }),
            exactly_one_key("power_kw", "percent"),
        ),
    },
    "ev_charger": {
        "set_limit": vol.All(
            vol.Schema({
                **_TARGET,
                vol.Optional("power_kw"): finite_number(0.0),
                vol.Optional("current_a"): finite_number(0.0),
            }),
            exactly_one_key("power_kw", "current_a"),
        ),
        "start": vol.Schema({**_TARGET, vol.Optional("id_tag"): vol.All(string, vol.Length(1, 20))}),
        "stop": vol.Schema(_TARGET),
    },
}

DESCRIPTIONS: dict[str, str] = {
    "battery.set_power": "Hold the battery at power_kw (+ discharge / - charge)",
    "battery.auto": "Hand control back to the battery's own self-consumption mode",
    "pv.set_limit": "Limit the inverter's output to power_kw, or percent of its rating",
    "ev_charger.set_limit": "Limit charging to power_kw, or current_a per phase",
    "ev_charger.start": "Start (or allow) charging, with an optional id_tag",
    "ev_charger.stop": "Stop charging",
}

# The services that hand control back rather than set a value.
RELEASES = frozenset({("battery", "auto")})


@dataclass(frozen=True, slots=True)
class Command:
    """What travels with every setpoint to a device.

    `context` is the call's, for the device's next state write; `revert_s`, when set, is how long
    the device holds the setpoint by itself before it falls back (its watchdog, SunSpec revert
    timer or bounded OCPP profile); the engine renews it while it is healthy. `attributes` are
    the ownership attributes the device's state shows from now on.
    """

    context: Context
    revert_s: float | None = None
    # `setpoint_source` and `setpoint_until`, for the device's next state write.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # What a charger falls back to by itself (its safe state's data, `current_a` or `power_kw`);
    # None: its own maximum. Batteries fall back to auto and inverters lift their limit.
    fallback: Mapping[str, Any] | None = None


@runtime_checkable
class BatteryDevice(Protocol):
    async def set_power(self, power_kw: float, command: Command) -> None: ...
    async def auto(self, command: Command) -> None: ...


@runtime_checkable
class PVDevice(Protocol):
    async def set_limit(self, power_kw: float | None, percent: float | None, command: Command) -> None: ...


@runtime_checkable
class EVChargerDevice(Protocol):
    async def set_limit(self, power_kw: float | None, current_a: float | None, command: Command) -> None: ...
    async def start(self, id_tag: str | None, command: Command) -> None: ...
    async def stop(self, command: Command) -> None: ...


Device = BatteryDevice | PVDevice | EVChargerDevice


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


async def dispatch(device: Any, domain: str, service: str, data: Mapping[str, Any], command: Command) -> None:
    """Call the Protocol method behind `domain.service` with the validated call data."""
    if service == "set_power":
        await device.set_power(float(data["power_kw"]), command)
    elif service == "auto":
        await device.auto(command)
    elif service == "set_limit":
        second = "current_a" if domain == "ev_charger" else "percent"
        await device.set_limit(_optional(data.get("power_kw")), _optional(data.get(second)), command)
    elif service == "start":
        await device.start(data.get("id_tag"), command)
    elif service == "stop":
        await device.stop(command)
    else:  # the schemas admit no other service
        raise ServiceValidationError(f"{domain}: no nature service {service!r}")


def _number(attributes: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def check_against_device(domain: str, service: str, data: Mapping[str, Any], state: State) -> None:
    """Refuse what the device's own published limits rule out, the same way for every provider."""
    entity_id = state.entity_id
    attributes = state.attributes
    if domain == "battery" and service == "set_power":
        power = float(data["power_kw"])
        most_out = _number(attributes, "max_discharge_kw")
        most_in = _number(attributes, "max_charge_kw")
        if most_out is not None and power > most_out:
            raise ServiceValidationError(
                f"battery.set_power: power_kw: {entity_id} can discharge at most {most_out:g} kW, found {power:g}"
            )
        if most_in is not None and power < -most_in:
            raise ServiceValidationError(
                f"battery.set_power: power_kw: {entity_id} can charge at most {most_in:g} kW "
                f"(power_kw >= {-most_in:g}), found {power:g}"
            )
    elif domain == "pv" and service == "set_limit" and "power_kw" in data:
        rating = _number(attributes, "inverter_kw", "peak_power_kw")
        if rating is not None and float(data["power_kw"]) > rating:
            raise ServiceValidationError(
                f"pv.set_limit: power_kw: {entity_id} is rated {rating:g} kW, found {float(data['power_kw']):g}; "
                "use percent: 100 to lift the limit"
            )
    elif domain == "ev_charger" and service == "set_limit" and "power_kw" in data:
        most = _number(attributes, "max_power_kw")
        if most is not None and float(data["power_kw"]) > most:
            raise ServiceValidationError(
                f"ev_charger.set_limit: power_kw: {entity_id} charges at most {most:g} kW, "
                f"found {float(data['power_kw']):g}"
            )
