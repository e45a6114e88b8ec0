"""The `modbus:` YAML block, in the shape Home Assistant users know, plus `battery:` and `pv:` natures.

Errors carry the path of the offending key (`modbus[0].sensors[2].address`), which the config
loader turns into `file:line`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import voluptuous as vol

from orbiteos.entity import slugify
from orbiteos.integrations.modbus.natures import CONSTANTS, NATURE_MAPS
from orbiteos.integrations.modbus.planner import DEFAULT_MAX_GAP, MAX_REGISTERS
from orbiteos.integrations.modbus.profiles import PROFILES
from orbiteos.integrations.modbus.registers import DATA_TYPES, INPUT_TYPES, SWAPS, register_count
from orbiteos.validation import boolean, found, one_of, port, positive_int, positive_time_period, string

DEFAULT_SCAN_INTERVAL = 15.0
DEFAULT_TIMEOUT = 3.0
BINARY_INPUT_TYPES = ("coil", "discrete_input", "holding", "input")


def address(value: Any) -> int:
    number = positive_int(value)
    if number > 0xFFFF:
        raise vol.Invalid(f"expected a register address 0-65535, found {found(value)}")
    return number


def device_id(value: Any) -> int:
    number = positive_int(value)
    if number > 255:
        raise vol.Invalid(f"expected a device id (unit id) 0-255, found {found(value)}")
    return number


def data_type(value: Any) -> str:
    text = string(value).strip().lower()
    if text not in DATA_TYPES:
        raise vol.Invalid(f"unknown data_type: expected one of {', '.join(DATA_TYPES)}")
    return text


def seconds(value: Any) -> float:
    return positive_time_period(value).total_seconds()


def number(value: Any) -> float:
    if isinstance(value, bool):
        raise vol.Invalid(f"expected a number, found {found(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise vol.Invalid(f"expected a number, found {found(value)}") from None


def _unit_id_alias(config: dict[str, Any]) -> dict[str, Any]:
    """`slave:` is Home Assistant's older name for `device_id:`."""
    if "slave" in config:
        if "device_id" in config and config["device_id"] != config["slave"]:
            raise vol.Invalid("give either device_id or slave, not both", path=["slave"])
        config["device_id"] = config.pop("slave")
    config.setdefault("device_id", 1)
    return config


def _check_value_layout(config: dict[str, Any]) -> dict[str, Any]:
    """count and swap must fit the data type."""
    dtype = config["data_type"]
    per_value = DATA_TYPES[dtype][1]
    if dtype == "string":
        if "count" not in config:
            raise vol.Invalid("data_type string needs count (registers)", path=["count"])
    elif "count" in config and config["count"] != per_value:
        raise vol.Invalid(f"{dtype} takes {per_value} register(s), found count {config['count']}", path=["count"])
    if config["swap"] in ("word", "word_byte") and per_value == 1:
        raise vol.Invalid(f"swap {config['swap']} needs a data type of 2 or more registers, not {dtype}", path=["swap"])
    count = register_count(dtype, config.get("count", 0))
    if count > MAX_REGISTERS:
        raise vol.Invalid(f"{count} registers exceed the {MAX_REGISTERS} of one request", path=["count"])
    if config["address"] + count > 0x10000:
        raise vol.Invalid(f"registers {config['address']}..{config['address'] + count - 1} run past 65535",
                          path=["address"])
    return config


_VALUE_FIELDS: dict[Any, Any] = {
    vol.Required("address"): address,
    vol.Optional("data_type", default="int16"): data_type,
    vol.Optional("input_type", default="holding"): one_of(*INPUT_TYPES),
    vol.Optional("count"): vol.All(positive_int, vol.Range(min=1)),
    vol.Optional("swap", default="none"): one_of(*SWAPS),
    vol.Optional("scale", default=1.0): number,
    vol.Optional("offset", default=0.0): number,
    vol.Optional("precision"): vol.All(positive_int, vol.Range(max=10)),
    vol.Optional("sf_address"): address,
}

VALUE_SCHEMA = vol.All(vol.Schema(_VALUE_FIELDS), _check_value_layout)

_COMMON = {
    vol.Required("name"): string,
    vol.Optional("device_id"): device_id,
    vol.Optional("slave"): device_id,
    vol.Optional("scan_interval", default=DEFAULT_SCAN_INTERVAL): seconds,
    vol.Optional("unique_id"): string,
    vol.Optional("device_class"): string,
}

SENSOR_SCHEMA = vol.All(
    vol.Schema(
        {
            **_COMMON,
            **_VALUE_FIELDS,
            vol.Optional("unit_of_measurement"): string,
            vol.Optional("state_class"): string,
        }
    ),
    _unit_id_alias,
    _check_value_layout,
)

BINARY_SENSOR_SCHEMA = vol.All(
    vol.Schema(
        {
            **_COMMON,
            vol.Required("address"): address,
            vol.Optional("input_type", default="coil"): one_of(*BINARY_INPUT_TYPES),
        }
    ),
    _unit_id_alias,
)

VERIFY_SCHEMA = vol.Schema(
    {
        vol.Optional("address"): address,
        vol.Optional("input_type"): one_of(*BINARY_INPUT_TYPES),
        vol.Optional("state_on"): positive_int,
        vol.Optional("state_off"): positive_int,
    }
)

SWITCH_SCHEMA = vol.All(
    vol.Schema(
        {
            **_COMMON,
            vol.Required("address"): address,
            vol.Optional("write_type", default="holding"): one_of("holding", "coil"),
            vol.Optional("command_on", default=1): positive_int,
            vol.Optional("command_off", default=0): positive_int,
            # Present (even empty): read the state back; absent: assume the last command took effect.
            vol.Optional("verify"): vol.Any(None, VERIFY_SCHEMA),
        }
    ),
    _unit_id_alias,
)


def _nature_schema(nature: str) -> Callable[[Any], dict[str, Any]]:
    spec = NATURE_MAPS[nature]

    def known_register(value: Any) -> str:
        text = string(value)
        if text not in spec.attributes:
            raise vol.Invalid(
                f"unknown {nature} attribute {found(value)}: expected one of {', '.join(spec.attributes)}"
            )
        return text

    def known_control(value: Any) -> str:
        text = string(value)
        if text not in spec.controls:
            raise vol.Invalid(f"unknown {nature} control {found(value)}: expected one of {', '.join(spec.controls)}")
        return text

    def known_profile(value: Any) -> str:
        text = string(value)
        if text not in PROFILES or PROFILES[text].nature != nature:
            names = [n for n, p in PROFILES.items() if p.nature == nature]
            raise vol.Invalid(f"unknown {nature} profile {found(value)}: expected one of {', '.join(names)}")
        return text

    fields: dict[Any, Any] = {
        **_COMMON,
        vol.Optional("profile"): known_profile,
        vol.Optional("registers", default=dict): {known_register: VALUE_SCHEMA},
        vol.Optional("controls", default=dict): {known_control: vol.Any(VALUE_SCHEMA, None)},
        **{vol.Optional(k): number for k in CONSTANTS},
    }
    schema = vol.Schema(fields)

    def validate(value: Any) -> dict[str, Any]:
        config = _unit_id_alias(schema(value))
        if "profile" not in config and "power" not in config["registers"]:
            raise vol.Invalid(f"a {nature} needs a profile or registers.power", path=["registers"])
        for control, control_spec in config["controls"].items():
            if control_spec is not None and control_spec["input_type"] != "holding":
                raise vol.Invalid("controls are written to holding registers", path=["controls", control, "input_type"])
        return config

    return validate


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    """A list of items, or one item on its own; errors keep the index."""

    def validate(value: Any) -> list[Any]:
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return vol.Schema([item])(items)

    return validate


HUB_SCHEMA = vol.Schema(
    {
        vol.Required("name"): string,
        vol.Optional("type", default="tcp"): vol.All(
            string, one_of("tcp")  # serial, udp and rtuovertcp are not supported
        ),
        vol.Required("host"): string,
        vol.Optional("port", default=502): port,
        vol.Optional("timeout", default=DEFAULT_TIMEOUT): vol.All(seconds, vol.Range(min=0.01)),
        vol.Optional("delay", default=0.0): seconds,
        vol.Optional("message_wait_milliseconds", default=0): positive_int,
        vol.Optional("retry_max", default=60.0): vol.All(seconds, vol.Range(min=0.1)),
        vol.Optional("max_gap", default=DEFAULT_MAX_GAP): vol.All(positive_int, vol.Range(max=MAX_REGISTERS)),
        vol.Optional("close_comm_on_error"): boolean,
        vol.Optional("retries"): positive_int,
        vol.Optional("sensors", default=list): _list_of(SENSOR_SCHEMA),
        vol.Optional("binary_sensors", default=list): _list_of(BINARY_SENSOR_SCHEMA),
        vol.Optional("switches", default=list): _list_of(SWITCH_SCHEMA),
        vol.Optional("battery", default=list): _list_of(_nature_schema("battery")),
        vol.Optional("pv", default=list): _list_of(_nature_schema("pv")),
        vol.Optional("meter", default=list): _list_of(_nature_schema("meter")),
    }
)

ENTITY_KEYS = {"sensors": "sensor", "binary_sensors": "binary_sensor", "switches": "switch", "battery": "battery",
               "pv": "pv", "meter": "meter"}


def _check_hubs(hubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Across the whole block: unique hub names and entity ids, and no register read twice."""
    names: dict[str, int] = {}
    entity_ids: dict[str, str] = {}
    for index, hub in enumerate(hubs):
        if hub["name"] in names:
            raise vol.Invalid(f"hub name {hub['name']!r} is already used by hub {names[hub['name']]}",
                              path=[index, "name"])
        names[hub["name"]] = index
        for key, domain in ENTITY_KEYS.items():
            for j, item in enumerate(hub[key]):
                entity_id = f"{domain}.{slugify(item['name'])}"
                if entity_id in entity_ids:
                    raise vol.Invalid(f"{entity_id} is already defined at {entity_ids[entity_id]}",
                                      path=[index, key, j, "name"])
                entity_ids[entity_id] = f"modbus[{index}].{key}[{j}]"
        _check_overlaps(hub, index)
    return hubs


def _check_overlaps(hub: dict[str, Any], index: int) -> None:
    """Two values written in the map must not read the same register of one device."""
    seen: dict[tuple[int, str], list[tuple[int, int, str]]] = {}

    def claim(dev: int, table: str, start: int, end: int, path: list[Any], what: str) -> None:
        for other_start, other_end, other_what in seen.setdefault((dev, table), []):
            if start < other_end and other_start < end:
                raise vol.Invalid(
                    f"{what} ({table} registers {start}..{end - 1}) overlaps {other_what} "
                    f"({table} registers {other_start}..{other_end - 1}) on device {dev}",
                    path=[index, *path, "address"],
                )
        seen[(dev, table)].append((start, end, what))

    for j, sensor in enumerate(hub["sensors"]):
        end = sensor["address"] + register_count(sensor["data_type"], sensor.get("count", 0))
        claim(sensor["device_id"], sensor["input_type"], sensor["address"], end, ["sensors", j],
              f"sensor {sensor['name']!r}")
    for key in ("battery", "pv", "meter"):
        for j, item in enumerate(hub[key]):
            for attr, spec in item["registers"].items():
                end = spec["address"] + register_count(spec["data_type"], spec.get("count", 0))
                claim(item["device_id"], spec["input_type"], spec["address"], end, [key, j, "registers", attr],
                      f"{key} {item['name']!r} {attr}")


CONFIG_SCHEMA = vol.All(_list_of(HUB_SCHEMA), _check_hubs)
