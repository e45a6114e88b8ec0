"""The `mqtt:` configuration block and the `mqtt.publish` service data, validated with voluptuous."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.entity import slugify
from orbiteos.integrations.mqtt.meter import DEFAULT_FIELDS
from orbiteos.integrations.mqtt.topic import valid_publish_topic, valid_subscribe_topic

DEFAULT_STATUS_TOPIC = "orbiteos/status"

qos = vol.All(vol.Coerce(int), cv.one_of(0, 1, 2))


def _seconds(value: Any) -> float:
    return cv.positive_time_period(value).total_seconds()


def _payload(value: Any) -> str:
    return cv.string(value)


def _template_source(value: Any) -> str:
    """A template's source text; checked for syntax when the entity is built."""
    return cv.string(value)


def _message(default_payload: str) -> vol.Schema:
    return vol.Schema(
        {
            vol.Optional("topic", default=DEFAULT_STATUS_TOPIC): valid_publish_topic,
            vol.Optional("payload", default=default_payload): _payload,
            vol.Optional("qos", default=0): qos,
            vol.Optional("retain", default=False): cv.boolean,
        }
    )


def _optional_message(default_payload: str) -> Any:
    """A birth/last-will message; `{}` or null switches it off (as in Home Assistant)."""
    schema = _message(default_payload)

    def validate(value: Any) -> dict[str, Any] | None:
        if value is None or value == {} or value is False:
            return None
        return dict(schema(value))

    return validate


_TLS = vol.Schema(
    {
        vol.Optional("certificate"): cv.string,  # CA file; omit for the system CAs
        vol.Optional("client_cert"): cv.string,
        vol.Optional("client_key"): cv.string,
        vol.Optional("insecure", default=False): cv.boolean,
    }
)


def _tls(value: Any) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    if value is True:
        return dict(_TLS({}))
    return dict(_TLS(value))


_AVAILABILITY_ITEM = vol.Schema(
    {
        vol.Required("topic"): valid_subscribe_topic,
        vol.Optional("payload_available", default="online"): _payload,
        vol.Optional("payload_not_available", default="offline"): _payload,
        vol.Optional("value_template"): _template_source,
    }
)

_ENTITY_BASE: dict[Any, Any] = {
    vol.Optional("name"): cv.string,
    vol.Optional("object_id"): cv.slug,
    vol.Optional("entity_id"): cv.entity_id,
    vol.Optional("unique_id"): cv.string,
    vol.Optional("icon"): cv.string,
    vol.Optional("device_class"): cv.string,
    vol.Optional("qos", default=0): qos,
    vol.Optional("availability_topic"): valid_subscribe_topic,
    vol.Optional("availability_template"): _template_source,
    vol.Optional("payload_available", default="online"): _payload,
    vol.Optional("payload_not_available", default="offline"): _payload,
    vol.Optional("availability"): [_AVAILABILITY_ITEM],
    vol.Optional("availability_mode", default="latest"): cv.one_of("all", "any", "latest"),
    vol.Optional("json_attributes_topic"): valid_subscribe_topic,
    vol.Optional("json_attributes_template"): _template_source,
    vol.Optional("force_update", default=False): cv.boolean,
    vol.Optional("expire_after"): _seconds,
}


def _with_entity_id(domain: str) -> Any:
    """Derive `entity_id` from `object_id` or `name`, as Home Assistant does."""

    def validate(config: dict[str, Any]) -> dict[str, Any]:
        config = dict(config)
        if "entity_id" in config:
            if not config["entity_id"].startswith(domain + "."):
                raise vol.Invalid(f"expected an entity id of domain {domain}, found {config['entity_id']!r}")
            return config
        if "object_id" in config:
            config["entity_id"] = f"{domain}.{config['object_id']}"
        elif "name" in config:
            config["entity_id"] = f"{domain}.{slugify(config['name'])}"
        else:
            raise vol.Invalid(f"an MQTT {domain} needs a 'name' or an 'object_id'")
        return config

    return validate


SENSOR_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTITY_BASE,
            vol.Required("state_topic"): valid_subscribe_topic,
            vol.Optional("value_template"): _template_source,
            vol.Optional("unit_of_measurement"): cv.string,
            vol.Optional("state_class"): cv.one_of("measurement", "total", "total_increasing"),
        }
    ),
    _with_entity_id("sensor"),
)

BINARY_SENSOR_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTITY_BASE,
            vol.Required("state_topic"): valid_subscribe_topic,
            vol.Optional("value_template"): _template_source,
            vol.Optional("payload_on", default="ON"): _payload,
            vol.Optional("payload_off", default="OFF"): _payload,
        }
    ),
    _with_entity_id("binary_sensor"),
)

SWITCH_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTITY_BASE,
            vol.Required("command_topic"): valid_publish_topic,
            vol.Optional("state_topic"): valid_subscribe_topic,
            vol.Optional("value_template"): _template_source,
            vol.Optional("payload_on", default="ON"): _payload,
            vol.Optional("payload_off", default="OFF"): _payload,
            vol.Optional("state_on"): _payload,
            vol.Optional("state_off"): _payload,
            vol.Optional("optimistic"): cv.boolean,
            vol.Optional("retain", default=False): cv.boolean,
        }
    ),
    _with_entity_id("switch"),
)

def _json_path(value: Any) -> str:
    if not isinstance(value, str) or not value or any(not step for step in value.split(".")):
        raise vol.Invalid(f"expected a JSON path such as 'energy.import_kwh', found {value!r}")
    return value


_FIELD = vol.Any(
    None,
    _json_path,
    vol.Schema({vol.Required("path"): _json_path, vol.Optional("scale", default=1.0): vol.Coerce(float)}),
)


def _meter_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise vol.Invalid(f"expected a mapping of meter attribute to JSON path, found {value!r}")
    checked = {}
    for attribute, spec in value.items():
        name = cv.slug(attribute)
        try:
            checked[name] = _FIELD(spec)
        except vol.Invalid as err:
            raise vol.Invalid(
                f"expected a JSON path or {{path:, scale:}} for {name}, found {spec!r}", path=[name]
            ) from err
    return checked


METER_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTITY_BASE,
            vol.Required("state_topic"): valid_subscribe_topic,
            vol.Optional("fields", default={}): _meter_fields,
        }
    ),
    _with_entity_id("meter"),
)

BATTERY_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTITY_BASE,
            vol.Required("state_topic"): valid_subscribe_topic,
            vol.Optional("fields", default={}): _meter_fields,
            vol.Optional("set_power_topic"): valid_publish_topic,
            vol.Optional("auto_topic"): valid_publish_topic,
            vol.Optional("qos", default=1): qos,
        }
    ),
    _with_entity_id("battery"),
)

_FILTER = vol.Schema(
    {
        vol.Optional("domains", default=[]): vol.All(cv.ensure_list, [cv.string]),
        vol.Optional("entities", default=[]): cv.entity_ids,
        vol.Optional("entity_globs", default=[]): vol.All(cv.ensure_list, [cv.string]),
    }
)

STATESTREAM_SCHEMA = vol.Schema(
    {
        vol.Required("base_topic"): valid_publish_topic,
        vol.Optional("publish_attributes", default=False): cv.boolean,
        vol.Optional("publish_timestamps", default=False): cv.boolean,
        vol.Optional("qos", default=1): qos,  # Home Assistant's mqtt_statestream publishes with QoS 1
        vol.Optional("retain", default=True): cv.boolean,
        vol.Optional("include", default={}): _FILTER,
        vol.Optional("exclude", default={}): _FILTER,
    }
)

ENTITY_PLATFORMS = {
    "sensor": SENSOR_SCHEMA,
    "binary_sensor": BINARY_SENSOR_SCHEMA,
    "switch": SWITCH_SCHEMA,
    "meter": METER_SCHEMA,
    "battery": BATTERY_SCHEMA,
}


def _unique_entity_ids(config: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, str] = {}
    for platform in ENTITY_PLATFORMS:
        for index, item in enumerate(config.get(platform, [])):
            where = f"{platform}[{index}]"
            if item["entity_id"] in seen:
                raise vol.Invalid(
                    f"entity id {item['entity_id']} is already used by {seen[item['entity_id']]}; "
                    "give one of them another name or object_id",
                    path=[platform, index],
                )
            seen[item["entity_id"]] = where
    return config


def _none_is_empty(value: Any) -> dict[str, Any]:
    return {} if value is None else value


CONFIG_SCHEMA = vol.All(
    _none_is_empty,
    vol.Schema(
        {
            vol.Optional("broker", default="127.0.0.1"): cv.string,
            vol.Optional("port", default=1883): cv.port,
            vol.Optional("username"): cv.string,
            vol.Optional("password"): cv.string,
            vol.Optional("client_id"): cv.string,
            vol.Optional("keepalive", default=60): vol.All(vol.Coerce(int), vol.Range(min=5, max=65535)),
            vol.Optional("protocol", default="3.1.1"): vol.All(cv.string, cv.one_of("3.1", "3.1.1", "5")),
            vol.Optional("tls"): _tls,
            vol.Optional("birth_message", default={"topic": DEFAULT_STATUS_TOPIC}): _optional_message("online"),
            vol.Optional("will_message", default={"topic": DEFAULT_STATUS_TOPIC}): _optional_message("offline"),
            vol.Optional("timeout", default=10.0): vol.All(_seconds, vol.Range(min=0.1)),
            vol.Optional("reconnect_min_delay", default=1.0): _seconds,
            vol.Optional("reconnect_max_delay", default=60.0): _seconds,
            **{vol.Optional(p, default=[]): vol.All(cv.ensure_list, [s]) for p, s in ENTITY_PLATFORMS.items()},
            vol.Optional("statestream"): STATESTREAM_SCHEMA,
        }
    ),
    _unique_entity_ids,
)

PUBLISH_SCHEMA = vol.Schema(
    {
        vol.Required("topic"): valid_publish_topic,
        vol.Exclusive("payload", "payload"): object,
        vol.Exclusive("payload_template", "payload"): _template_source,
        vol.Optional("qos", default=0): qos,
        vol.Optional("retain", default=False): cv.boolean,
    }
)

__all__ = ["CONFIG_SCHEMA", "DEFAULT_FIELDS", "PUBLISH_SCHEMA", "STATESTREAM_SCHEMA"]
