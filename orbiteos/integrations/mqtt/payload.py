"""Reading payloads: `value` / `value_json` for templates, JSON parsing that logs what was wrong and where."""

from __future__ import annotations

import json
import logging
from typing import Any

from orbiteos.errors import TemplateError
from orbiteos.integrations.mqtt.client import MqttMessage
from orbiteos.template import Template

_LOGGER = logging.getLogger(__name__)

NOT_JSON = object()


def parse_json(payload: str) -> Any:
    """The payload as JSON, or `NOT_JSON`."""
    try:
        return json.loads(payload)
    except ValueError:
        return NOT_JSON


def template_variables(template: Template, message: MqttMessage) -> dict[str, Any]:
    """`value` and, when the payload is JSON and the template uses it, `value_json` (as Home Assistant)."""
    variables: dict[str, Any] = {"value": message.payload}
    if "value_json" in template.source:
        parsed = parse_json(message.payload)
        if parsed is not NOT_JSON:
            variables["value_json"] = parsed
    return variables


def render_value(template: Template, message: MqttMessage, owner: str, option: str) -> str | None:
    """Render `template` on a message to text; on failure log the topic and the payload and return None.

    Text, not native types: Home Assistant's MQTT value templates render with
    `async_render_with_possible_json_value`, which returns the rendered string.
    """
    try:
        result = template.render_str(template_variables(template, message))
    except TemplateError as err:
        _LOGGER.warning(
            "%s: %s failed on the payload %r from topic %s: %s; message ignored",
            owner, option, message.payload[:200], message.topic, err,
        )
        return None
    if result == "":
        _LOGGER.warning(
            "%s: %s gave nothing for the payload %r from topic %s; message ignored",
            owner, option, message.payload[:200], message.topic,
        )
        return None
    return result


def json_object(message: MqttMessage, owner: str, what: str) -> dict[str, Any] | None:
    """The payload as a JSON object, or None with a warning naming the topic."""
    parsed = parse_json(message.payload)
    if not isinstance(parsed, dict):
        found = "not JSON" if parsed is NOT_JSON else f"JSON {type(parsed).__name__}"
        _LOGGER.warning(
            "%s: expected a JSON object for %s on topic %s, found %s: %r; message ignored",
            owner, what, message.topic, found, message.payload[:200],
        )
        return None
    return parsed
