"""The `mqtt:` integration: one broker connection, entities from topics, `mqtt.publish`, statestream.

Other code subscribes with `await async_subscribe(hub, topic, callback, qos)`, which returns the
unsubscribe function; the callback gets an `MqttMessage` (`.topic`, `.payload` as text, `.qos`,
`.retain`). The `mqtt` automation trigger lives in `trigger.py`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import voluptuous as vol

from orbiteos.core import Hub, ServiceCall, Unsubscribe
from orbiteos.errors import ConfigError, DeviceUnavailable
from orbiteos.integrations.mqtt.battery import MqttBattery
from orbiteos.integrations.mqtt.client import (
    BrokerSettings,
    MqttMessage,
    MqttNotConnected,
    Publication,
    TlsSettings,
)
from orbiteos.integrations.mqtt.connection import MessageCallback, MqttConnection
from orbiteos.integrations.mqtt.entities import PLATFORMS, MqttEntity, MqttSwitch
from orbiteos.integrations.mqtt.entity_services import serve_switch_service
from orbiteos.integrations.mqtt.meter import MqttMeter
from orbiteos.integrations.mqtt.schema import CONFIG_SCHEMA, PUBLISH_SCHEMA
from orbiteos.integrations.mqtt.statestream import StateStream
from orbiteos.integrations.mqtt.topic import valid_subscribe_topic
from orbiteos.natures import serve
from orbiteos.template import Template

_LOGGER = logging.getLogger(__name__)

DOMAIN = "mqtt"
# Talks to a live broker: `orbiteos simulate` leaves it out.
LIVE_ONLY = True
# Domain -> the services this integration can provide (switch services when `switch:` entities exist).
SERVICES: dict[str, dict[str, vol.Schema | None]] = {
    "mqtt": {"publish": PUBLISH_SCHEMA},
    "switch": {"turn_on": None, "turn_off": None, "toggle": None},
}

__all__ = [
    "CONFIG_SCHEMA",
    "DOMAIN",
    "LIVE_ONLY",
    "SERVICES",
    "MqttMessage",
    "async_publish",
    "async_setup",
    "async_subscribe",
    "get_connection",
]

_ENTITY_CLASSES: dict[str, type[MqttEntity]] = {**PLATFORMS, "meter": MqttMeter, "battery": MqttBattery}


def broker_settings(config: dict[str, Any]) -> BrokerSettings:
    def publication(message: dict[str, Any] | None) -> Publication | None:
        if message is None:
            return None
        return Publication(message["topic"], message["payload"], message["qos"], message["retain"])

    tls = config.get("tls")
    return BrokerSettings(
        host=config["broker"],
        port=config["port"],
        username=config.get("username"),
        password=config.get("password"),
        client_id=config.get("client_id"),
        keepalive=config["keepalive"],
        protocol=config["protocol"],
        tls=TlsSettings(tls.get("certificate"), tls.get("client_cert"), tls.get("client_key"), tls["insecure"])
        if tls is not None
        else None,
        birth=publication(config.get("birth_message")),
        will=publication(config.get("will_message")),
        # A clean stop says "offline" too: the retained status must not stay "online" (the will
        # alone is only published by the broker when the connection is lost).
        will_on_close=True,
        reconnect_min_s=config["reconnect_min_delay"],
        reconnect_max_s=max(config["reconnect_max_delay"], config["reconnect_min_delay"]),
        timeout_s=config["timeout"],
    )


def get_connection(hub: Hub) -> MqttConnection:
    connection = hub.data.get(DOMAIN)
    if not isinstance(connection, MqttConnection):
        raise ConfigError("MQTT is not set up: add an 'mqtt:' block with the broker to the configuration")
    return connection


async def async_subscribe(hub: Hub, topic: str, callback: MessageCallback, qos: int = 0) -> Unsubscribe:
    """Call `callback(message)` for every message on `topic` (wildcards allowed); returns the unsubscribe.

    Raises ValueError for a malformed topic filter or QoS.
    """
    try:
        valid_subscribe_topic(topic)
    except vol.Invalid as err:
        raise ValueError(str(err)) from None
    if qos not in (0, 1, 2):
        raise ValueError(f"expected QoS 0, 1 or 2, found {qos!r}")
    return await get_connection(hub).subscribe(topic, callback, qos)


async def async_publish(hub: Hub, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
    """Publish; raises DeviceUnavailable while the broker is not connected."""
    try:
        await get_connection(hub).publish(topic, encode_payload(payload), qos=qos, retain=retain)
    except MqttNotConnected as err:
        raise DeviceUnavailable(str(err)) from None


def encode_payload(payload: Any) -> str | bytes | None:
    """Payload text for any value: JSON for mappings and lists, `str()` for the rest."""
    if payload is None or isinstance(payload, str | bytes):
        return payload
    if isinstance(payload, dict | list):
        return json.dumps(payload)
    if isinstance(payload, bool):
        return "true" if payload else "false"
    return str(payload)


def entity_ids(config: dict[str, Any]) -> list[str]:
    """The entities a validated `mqtt:` block creates, for `orbiteos check`."""
    return [item["entity_id"] for platform in _ENTITY_CLASSES for item in config.get(platform, [])]


async def async_setup(hub: Hub, config: dict[str, Any]) -> None:
    connection = MqttConnection(hub, broker_settings(config))
    hub.data[DOMAIN] = connection
    entities: list[MqttEntity] = []
    for platform, entity_class in _ENTITY_CLASSES.items():
        for item in config.get(platform, []):
            entity = entity_class(hub, connection, item)
            await entity.async_start()
            entities.append(entity)
    hub.data[f"{DOMAIN}.entities"] = {e.entity_id: e for e in entities}
    _register_services(hub, [e for e in entities if isinstance(e, MqttSwitch)])
    batteries = {e.entity_id: e for e in entities if isinstance(e, MqttBattery)}
    if batteries:
        hub.on_stop(serve(hub, "battery", DOMAIN, batteries))
    if config.get("statestream"):
        StateStream(hub, connection, config["statestream"]).start()

    def stop_entities() -> None:
        connection.client.close()
        for entity in entities:
            entity.stop()

    hub.on_stop(stop_entities)
    connection.start()
    _LOGGER.info("MQTT: %d entities on broker %s", len(entities), connection.settings.address)


def _register_services(hub: Hub, switches: list[MqttSwitch]) -> None:
    async def publish(call: ServiceCall) -> None:
        payload: Any = call.data.get("payload")
        if "payload_template" in call.data:
            payload = Template(call.data["payload_template"], hub).render_str({})
        await async_publish(hub, call.data["topic"], payload, call.data["qos"], call.data["retain"])

    hub.services.register(
        DOMAIN, "publish", publish, PUBLISH_SCHEMA, "Publish a message (payload or payload_template) to a topic"
    )
    if not switches:
        return
    by_id = {s.entity_id: s for s in switches}

    async def turn_on(entity_id: str, call: ServiceCall) -> None:
        await by_id[entity_id].turn(True)

    async def turn_off(entity_id: str, call: ServiceCall) -> None:
        await by_id[entity_id].turn(False)

    async def toggle(entity_id: str, call: ServiceCall) -> None:
        await by_id[entity_id].toggle()

    ids = set(by_id)
    hub.on_stop(serve_switch_service(hub, "turn_on", ids, turn_on, "Turn a switch on"))
    hub.on_stop(serve_switch_service(hub, "turn_off", ids, turn_off, "Turn a switch off"))
    hub.on_stop(serve_switch_service(hub, "toggle", ids, toggle, "Toggle a switch"))
