"""Entity services (`switch.turn_on` ...) for MQTT entities that share their domain with other integrations.

The registry holds one handler per domain and service. This handler serves the MQTT entities named
in the call and passes any other entity ids to the handler that was registered before it, so a
Modbus switch and an MQTT switch can both answer `switch.turn_on`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

from orbiteos.core import Hub, ServiceCall
from orbiteos.errors import ServiceNotFound, ServiceValidationError

EntityHandler = Callable[[str, ServiceCall], Awaitable[Any]]


def register_entity_service(
    hub: Hub, domain: str, service: str, entity_ids: set[str], handler: EntityHandler, description: str = ""
) -> None:
    """Serve `domain.service` for `entity_ids`; other entity ids go to the previous handler."""
    try:
        previous = hub.services.get(domain, service)
    except ServiceNotFound:
        previous = None

    async def handle(call: ServiceCall) -> None:
        requested = call.entity_ids
        mine = [e for e in requested if e in entity_ids] if requested else sorted(entity_ids)
        others = [e for e in requested if e not in entity_ids]
        for entity_id in mine:
            await handler(entity_id, call)
        if previous is not None and (others or not requested):
            data = dict(call.data)
            if others:
                data["entity_id"] = others
            result = previous.handler(ServiceCall(call.domain, call.service, MappingProxyType(data), call.context))
            if isinstance(result, Awaitable):
                await result
        elif others:
            raise ServiceValidationError(f"{domain}.{service}: no such entity: {', '.join(others)}")

    hub.services.register(domain, service, handle, previous.schema if previous else None, description)
