"""Whether an MQTT device says it is there: availability topics, their payloads and modes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from orbiteos.core import Hub
from orbiteos.integrations.mqtt.client import MqttMessage
from orbiteos.integrations.mqtt.payload import render_value
from orbiteos.template import Template

_LOGGER = logging.getLogger(__name__)

MODE_ALL, MODE_ANY, MODE_LATEST = "all", "any", "latest"


class _Source:
    __slots__ = ("topic", "payload_available", "payload_not_available", "template", "available")

    def __init__(self, topic: str, payload_available: str, payload_not_available: str, template: Template | None):
        self.topic = topic
        self.payload_available = payload_available
        self.payload_not_available = payload_not_available
        self.template = template
        self.available: bool | None = None  # nothing heard yet


class Availability:
    """Availability as Home Assistant's MQTT entities keep it.

    With no availability topic the device counts as available. With topics, it is unavailable
    until a topic says otherwise; `availability_mode` combines several topics (`latest`, `all`, `any`).
    """

    def __init__(self, hub: Hub, config: dict[str, Any], on_change: Callable[[], None], entity_id: str) -> None:
        self._hub = hub
        self._on_change = on_change
        self._entity_id = entity_id
        self.mode: str = config.get("availability_mode", MODE_LATEST)
        self.sources: list[_Source] = []
        self._latest: _Source | None = None
        if config.get("availability_topic"):
            self.sources.append(
                _Source(
                    config["availability_topic"],
                    config["payload_available"],
                    config["payload_not_available"],
                    _template(config.get("availability_template"), hub),
                )
            )
        for item in config.get("availability", []):
            self.sources.append(
                _Source(
                    item["topic"],
                    item["payload_available"],
                    item["payload_not_available"],
                    _template(item.get("value_template"), hub),
                )
            )

    @property
    def available(self) -> bool:
        if not self.sources:
            return True
        if self.mode == MODE_ALL:
            return all(s.available for s in self.sources)
        if self.mode == MODE_ANY:
            return any(s.available for s in self.sources)
        return bool(self._latest and self._latest.available)

    def handler(self, source: _Source) -> Callable[[MqttMessage], None]:
        def on_message(message: MqttMessage) -> None:
            payload = message.payload
            if source.template is not None:
                rendered = render_value(source.template, message, self._entity_id, "availability_template")
                if rendered is None:
                    return
                payload = str(rendered)
            if payload == source.payload_available:
                source.available = True
            elif payload == source.payload_not_available:
                source.available = False
            else:
                _LOGGER.warning(
                    "%s: availability payload %r on %s is neither %r nor %r; ignored",
                    self._entity_id, payload[:100], message.topic,
                    source.payload_available, source.payload_not_available,
                )
                return
            self._latest = source
            self._on_change()

        return on_message


def _template(source: str | None, hub: Hub) -> Template | None:
    return Template(source, hub) if source else None
