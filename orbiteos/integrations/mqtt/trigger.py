"""`mqtt` trigger: a message on `topic` (wildcards allowed), optionally with a given `payload`.

With `value_template` the payload is rendered first (`value`, `value_json`) and the result is
compared with `payload`. The run gets `trigger.topic`, `trigger.payload`, `trigger.payload_json`
(when the payload is JSON), `trigger.qos` and `trigger.description`, as in Home Assistant.
`topic` and `payload` may be templates of the automation's `trigger_variables`.
"""

from __future__ import annotations

import codecs
import logging
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.core import Context, Hub, Unsubscribe
from orbiteos.integrations.mqtt import async_subscribe
from orbiteos.integrations.mqtt.client import MqttMessage
from orbiteos.integrations.mqtt.payload import NOT_JSON, parse_json, render_value
from orbiteos.integrations.mqtt.schema import qos
from orbiteos.integrations.mqtt.topic import valid_subscribe_topic
from orbiteos.template import Template, is_template_string

_LOGGER = logging.getLogger(__name__)


def _topic(value: Any) -> str:
    text = cv.string(value)
    return text if is_template_string(text) else valid_subscribe_topic(text)


def _encoding(value: Any) -> str:
    """A codec name; "" (or null) hands the payload over as bytes, as Home Assistant."""
    if value is None or value == "":
        return ""
    text = cv.string(value)
    try:
        codecs.lookup(text)
    except LookupError:
        raise vol.Invalid(f"expected a text encoding such as utf-8 (or '' for bytes), found {text!r}") from None
    return text


TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["mqtt"]),
        vol.Required("topic"): _topic,
        vol.Optional("payload"): cv.string,
        vol.Optional("value_template"): cv.string,
        vol.Optional("qos", default=0): qos,
        # "" hands the payload over as bytes, as Home Assistant.
        vol.Optional("encoding", default="utf-8"): _encoding,
    }
)


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    variables = trigger_info["variables"]
    topic = valid_subscribe_topic(str(Template(config["topic"], hub).render_str(variables)))
    wanted: str | None = None
    if "payload" in config:
        wanted = Template(config["payload"], hub).render_str(variables)
    value_template = Template(config["value_template"], hub) if config.get("value_template") else None
    if value_template is not None:
        value_template.ensure_valid()
    encoding = config["encoding"]
    trigger_data = trigger_info["trigger_data"]
    owner = f"automation {trigger_info['name']}: mqtt trigger"

    def on_message(message: MqttMessage) -> None:
        if wanted is not None:
            if value_template is not None:
                rendered = render_value(value_template, message, owner, "value_template")
                if rendered is None or str(rendered) != wanted:
                    return
            elif message.payload != wanted:
                return
        payload: str | bytes = message.payload
        if encoding == "":
            payload = message.payload_bytes
        elif encoding not in ("utf-8", "utf8"):
            payload = message.payload_bytes.decode(encoding, errors="replace")
        data: dict[str, Any] = {
            **trigger_data,
            "platform": "mqtt",
            "topic": message.topic,
            "payload": payload,
            "qos": message.qos,
            "description": f"mqtt topic {message.topic}",
        }
        parsed = parse_json(message.payload)
        if parsed is not NOT_JSON:
            data["payload_json"] = parsed
        action({"trigger": data}, Context())

    return await async_subscribe(hub, topic, on_message, config["qos"])
