"""MQTT sensors, binary sensors and switches: state from a topic, attributes from JSON, availability."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from orbiteos.core import Hub, Unsubscribe
from orbiteos.entity import Entity
from orbiteos.errors import DeviceUnavailable
from orbiteos.integrations.mqtt.availability import Availability
from orbiteos.integrations.mqtt.client import MqttMessage, MqttNotConnected
from orbiteos.integrations.mqtt.connection import MqttConnection
from orbiteos.integrations.mqtt.payload import json_object, parse_json, render_value
from orbiteos.template import Template

_LOGGER = logging.getLogger(__name__)

# The payload that resets a binary sensor or a numeric sensor to unknown (Home Assistant's PAYLOAD_NONE).
PAYLOAD_NONE = "None"
# Attributes that JSON attributes may not override (Home Assistant's MQTT_ATTRIBUTES_BLOCKED, the gist).
_BLOCKED_ATTRIBUTES = frozenset({"friendly_name", "unit_of_measurement", "device_class", "state_class", "icon"})


class MqttEntity(Entity):
    """What every MQTT entity shares: availability, JSON attributes, subscriptions, expiry."""

    platform: ClassVar[str]

    def __init__(self, hub: Hub, connection: MqttConnection, config: Mapping[str, Any]) -> None:
        super().__init__(hub, config["entity_id"], config.get("name"))
        self.connection = connection
        self.config = config
        self.qos: int = config.get("qos", 0)
        self.force_update: bool = config.get("force_update", False)
        self.unit_of_measurement = config.get("unit_of_measurement")
        self.availability = Availability(hub, dict(config), self._refresh_available, self.entity_id)
        self._static_attributes = {
            key: config[key] for key in ("device_class", "state_class", "icon") if config.get(key) is not None
        }
        self._json_attributes: dict[str, Any] = {}
        self._attributes_template = _template(config.get("json_attributes_template"), hub)
        self._expire_after: float | None = config.get("expire_after")
        self._expired = False
        self._expiry: asyncio.TimerHandle | None = None
        self._unsubscribes: list[Unsubscribe] = []
        self.available = False

    @property
    def attributes(self) -> Mapping[str, Any]:
        attrs = dict(self._json_attributes)
        attrs.update(self._static_attributes)
        if self.unit_of_measurement is not None:
            attrs["unit_of_measurement"] = self.unit_of_measurement
        if self.name:
            attrs["friendly_name"] = self.name
        return attrs

    async def async_start(self) -> None:
        """Subscribe to every topic of this entity and write its first state."""
        self._unsubscribes.append(self.connection.listen_connection(lambda _connected: self._refresh_available()))
        for source in self.availability.sources:
            await self._subscribe(source.topic, self.availability.handler(source))
        if self.config.get("json_attributes_topic"):
            await self._subscribe(self.config["json_attributes_topic"], self._on_attributes_message)
        await self.subscribe_topics()
        self.available = self._should_be_available()
        self.write_state()

    async def subscribe_topics(self) -> None:
        """Subscribe to the entity's own state topics (subclasses)."""

    async def _subscribe(self, topic: str, callback: Any) -> None:
        self._unsubscribes.append(await self.connection.subscribe(topic, callback, self.qos))

    def stop(self) -> None:
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        if self._expiry is not None:
            self._expiry.cancel()

    # --- availability ------------------------------------------------------------------
    def _should_be_available(self) -> bool:
        return self.connection.connected and self.availability.available and not self._expired

    def _refresh_available(self) -> None:
        self.set_available(self._should_be_available())

    def _received_state(self) -> None:
        """Restart the `expire_after` clock after a state message."""
        if self._expire_after is None:
            return
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = self.hub.clock.call_later(self._expire_after, self._expire)
        if self._expired:
            self._expired = False
            self.available = self._should_be_available()

    def _expire(self) -> None:
        self._expired = True
        _LOGGER.info("%s: no state for %s s (expire_after); unavailable", self.entity_id, self._expire_after)
        self._refresh_available()

    # --- attributes --------------------------------------------------------------------
    def _on_attributes_message(self, message: MqttMessage) -> None:
        if self._attributes_template is not None:
            rendered = render_value(self._attributes_template, message, self.entity_id, "json_attributes_template")
            if rendered is None:
                return
            document = parse_json(rendered)
            if not isinstance(document, dict):
                _LOGGER.warning(
                    "%s: json_attributes_template must give a JSON object, gave %r for topic %s; ignored",
                    self.entity_id, rendered[:200], message.topic,
                )
                return
            parsed: dict[str, Any] | None = document
        else:
            parsed = json_object(message, self.entity_id, "json_attributes_topic")
        if parsed is None:
            return
        self._json_attributes = {k: v for k, v in parsed.items() if k not in _BLOCKED_ATTRIBUTES}
        self.write_state()

    def write_state(self, context: Any = None, force_update: bool = False) -> Any:
        return super().write_state(context, force_update or self.force_update)

    # --- state messages ----------------------------------------------------------------
    def _take_on_off(self, message: MqttMessage, template: Template | None, on: tuple[str, str],
                     off: tuple[str, str]) -> bool:
        """Set the on/off state from the payload (or its template); False (logged) when neither.

        `on` and `off` are (option name, expected text), for the warning.
        """
        value = self._value(template, message)
        if value is None:
            return False
        text = str(value).strip()
        if text == PAYLOAD_NONE:
            self.native_state = None  # Home Assistant's reset to unknown
            return True
        if text == on[1]:
            self.native_state = "on"
        elif text == off[1]:
            self.native_state = "off"
        else:
            _LOGGER.warning(
                "%s: payload %r on topic %s is neither %s %r nor %s %r; message ignored",
                self.entity_id, text[:200], message.topic, on[0], on[1], off[0], off[1],
            )
            return False
        return True

    def _value(self, template: Template | None, message: MqttMessage) -> Any:
        """The payload, or what `value_template` makes of it; None when it could not be read."""
        if template is None:
            return message.payload
        return render_value(template, message, self.entity_id, "value_template")


class MqttSensor(MqttEntity):
    platform = "sensor"

    def __init__(self, hub: Hub, connection: MqttConnection, config: Mapping[str, Any]) -> None:
        super().__init__(hub, connection, config)
        self._value_template = _template(config.get("value_template"), hub)
        # With a unit or a state class the state must be a number, as Home Assistant insists.
        self._numeric = bool(config.get("unit_of_measurement") or config.get("state_class"))

    async def subscribe_topics(self) -> None:
        await self._subscribe(self.config["state_topic"], self._on_state_message)

    def _on_state_message(self, message: MqttMessage) -> None:
        value = self._value(self._value_template, message)
        if value is None:
            return
        value = str(value).strip()  # ' 22 ' is 22, as a rendered value template gives it
        if self._numeric and value == PAYLOAD_NONE:
            value = None  # Home Assistant resets a numeric sensor to unknown on the payload 'None'
        elif self._numeric and not _is_number(value):
            _LOGGER.warning(
                "%s: expected a number on topic %s, found %r; message ignored",
                self.entity_id, message.topic, message.payload[:200],
            )
            return
        self.native_state = value
        self._received_state()
        self.write_state()


class MqttBinarySensor(MqttEntity):
    platform = "binary_sensor"

    def __init__(self, hub: Hub, connection: MqttConnection, config: Mapping[str, Any]) -> None:
        super().__init__(hub, connection, config)
        self._value_template = _template(config.get("value_template"), hub)
        self._payload_on = config["payload_on"]
        self._payload_off = config["payload_off"]

    async def subscribe_topics(self) -> None:
        await self._subscribe(self.config["state_topic"], self._on_state_message)

    def _on_state_message(self, message: MqttMessage) -> None:
        if self._take_on_off(message, self._value_template, ("payload_on", self._payload_on),
                             ("payload_off", self._payload_off)):
            self._received_state()
            self.write_state()


class MqttSwitch(MqttEntity):
    platform = "switch"

    def __init__(self, hub: Hub, connection: MqttConnection, config: Mapping[str, Any]) -> None:
        super().__init__(hub, connection, config)
        self._value_template = _template(config.get("value_template"), hub)
        self._payload_on = config["payload_on"]
        self._payload_off = config["payload_off"]
        self._state_on = config.get("state_on", self._payload_on)
        self._state_off = config.get("state_off", self._payload_off)
        self.optimistic: bool = config.get("optimistic", not config.get("state_topic"))

    async def subscribe_topics(self) -> None:
        if self.config.get("state_topic"):
            await self._subscribe(self.config["state_topic"], self._on_state_message)

    def _on_state_message(self, message: MqttMessage) -> None:
        if self._take_on_off(message, self._value_template, ("state_on", self._state_on),
                             ("state_off", self._state_off)):
            self.write_state()

    async def turn(self, on: bool) -> None:
        payload = self._payload_on if on else self._payload_off
        try:
            await self.connection.publish(
                self.config["command_topic"], payload, qos=self.qos, retain=self.config.get("retain", False)
            )
        except MqttNotConnected as err:
            raise DeviceUnavailable(f"{self.entity_id}: {err}") from None
        if self.optimistic:
            self.native_state = "on" if on else "off"
            self.write_state()

    async def toggle(self) -> None:
        await self.turn(self.native_state != "on")


PLATFORMS: dict[str, type[MqttEntity]] = {
    "sensor": MqttSensor,
    "binary_sensor": MqttBinarySensor,
    "switch": MqttSwitch,
}


def _template(source: str | None, hub: Hub) -> Template | None:
    if not source:
        return None
    template = Template(source, hub)
    template.ensure_valid()
    return template


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
