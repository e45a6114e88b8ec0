"""A grid meter (the `meter` device nature) read from one JSON telemetry topic.

Each nature attribute is taken from a field of the JSON object (a dotted path, list indexes
allowed: `phases.0.voltage`), optionally scaled (W -> kW: `scale: 0.001`). Fields missing from a
message keep their last value, so a device may split its telemetry over several messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from orbiteos.core import Hub
from orbiteos.integrations.mqtt.client import MqttMessage
from orbiteos.integrations.mqtt.connection import MqttConnection
from orbiteos.integrations.mqtt.entities import MqttEntity
from orbiteos.integrations.mqtt.payload import json_object

_LOGGER = logging.getLogger(__name__)

STATE_FIELD = "power"
# Nature attribute -> default JSON path (what `orbiteos sim-devices` publishes).
DEFAULT_FIELDS: dict[str, str] = {
    "power": "power_kw",
    "import_kwh": "import_kwh",
    "export_kwh": "export_kwh",
    "frequency_hz": "frequency_hz",
    **{f"{q}_l{phase}": f"{q}_l{phase}" for q in ("voltage", "current", "power") for phase in (1, 2, 3)},
}


MISSING: Any = object()


def lookup(document: Any, path: tuple[str, ...], missing: Any = None) -> Any:
    """Follow a dotted path through dicts and lists; `missing` when a step is missing."""
    node = document
    for step in path:
        if isinstance(node, dict):
            if step not in node:
                return missing
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return missing
    return node


class MqttMeter(MqttEntity):
    platform = "meter"
    default_fields: Mapping[str, str] = DEFAULT_FIELDS
    # Fields that are words, not numbers (a battery's `mode`); JSON null clears any field.
    text_fields: frozenset[str] = frozenset()

    def __init__(self, hub: Hub, connection: MqttConnection, config: Mapping[str, Any]) -> None:
        super().__init__(hub, connection, config)
        self.unit_of_measurement = "kW"
        # attribute -> (path, scale)
        self.fields: dict[str, tuple[tuple[str, ...], float]] = {}
        for attribute, spec in {**self.default_fields, **config.get("fields", {})}.items():
            if spec is None:  # `fields: {power_l1: null}` drops a default
                continue
            path, scale = (spec, 1.0) if isinstance(spec, str) else (spec["path"], spec.get("scale", 1.0))
            self.fields[attribute] = (tuple(path.split(".")), scale)
        self._values: dict[str, Any] = {}

    async def subscribe_topics(self) -> None:
        await self._subscribe(self.config["state_topic"], self._on_telemetry)

    @property
    def attributes(self) -> Mapping[str, Any]:
        attrs = {k: v for k, v in self._values.items() if k != STATE_FIELD}
        attrs.update(super().attributes)
        return attrs

    def _on_telemetry(self, message: MqttMessage) -> None:
        document = json_object(message, self.entity_id, "meter telemetry")
        if document is None:
            return
        found = 0
        for attribute, (path, scale) in self.fields.items():
            raw = lookup(document, path, MISSING)
            if raw is MISSING:
                continue
            if raw is None or (attribute in self.text_fields and isinstance(raw, str)):
                self._values[attribute] = raw
                found += 1
                continue
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                number = None
            else:
                try:
                    number = float(raw)
                except ValueError:
                    number = None
            if number is None:
                _LOGGER.warning(
                    "%s: field %s (%s) on topic %s is not a number: %r; field ignored",
                    self.entity_id, ".".join(path), attribute, message.topic, raw,
                )
                continue
            self._values[attribute] = round(number * scale, 6)
            found += 1
        if not found:
            _LOGGER.warning(
                "%s: no known field in the telemetry on topic %s (expected some of %s): %r; message ignored",
                self.entity_id, message.topic, ", ".join(".".join(p) for p, _ in self.fields.values()),
                message.payload[:200],
            )
            return
        if STATE_FIELD in self._values:
            self.native_state = self._values[STATE_FIELD]
        self._received_state()
        self.write_state()
