"""Switch services (`switch.turn_on` ...) for MQTT switches, which share their domain with other integrations.

Registered with `register_for_entities`: the registry hands this integration only the MQTT entities
named in a call and the others to their own integrations, so a Modbus switch and an MQTT switch can
both answer `switch.turn_on`, whichever was set up first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import voluptuous as vol

from orbiteos.core import Hub, ServiceCall, Unsubscribe
from orbiteos.validation import entity_ids as entity_ids_validator

EntityHandler = Callable[[str, ServiceCall], Awaitable[Any]]

TARGET_SCHEMA = vol.Schema({vol.Required("entity_id"): entity_ids_validator})


def serve_switch_service(
    hub: Hub, service: str, entity_ids: set[str], handler: EntityHandler, description: str = ""
) -> Unsubscribe:
    """Serve `switch.<service>` for the MQTT switches in `entity_ids`; returns the unsubscribe."""

    async def handle(call: ServiceCall) -> None:
        for entity_id in call.entity_ids:
            await handler(entity_id, call)

    return hub.services.register_for_entities(
        "switch", service, handle, entity_ids.__contains__, TARGET_SCHEMA, description
    )
