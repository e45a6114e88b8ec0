"""Serving a nature: one function registers a provider's devices for the nature's services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Hub, ServiceCall, Unsubscribe
from orbiteos.errors import DeviceUnavailable
from orbiteos.natures.contract import DESCRIPTIONS, SCHEMAS, check_against_device
from orbiteos.natures.layer import nature_layer
from orbiteos.natures.source import source_of


class DeviceDirectory(Mapping[str, Any]):
    """A read-only entity id -> device mapping over a lookup (for providers whose devices come and go)."""

    def __init__(self, lookup: Callable[[str], Any], entity_ids: Callable[[], list[str]]) -> None:
        self._lookup = lookup
        self._entity_ids = entity_ids

    def __getitem__(self, entity_id: str) -> Any:
        device = self._lookup(entity_id)
        if device is None:
            raise KeyError(entity_id)
        return device

    def __iter__(self) -> Iterator[str]:
        return iter(self._entity_ids())

    def __len__(self) -> int:
        return len(self._entity_ids())


def serve(hub: Hub, domain: str, provider: str, devices: Mapping[str, Any]) -> Unsubscribe:
    """Serve every service of nature `domain` for `devices` (entity id -> a device implementing the
    nature's Protocol). Returns the unsubscribe that withdraws them all."""
    layer = nature_layer(hub)

    layer.providers[(domain, provider)] = devices

    def owns(entity_id: str) -> bool:
        return entity_id in devices

    async def handle(call: ServiceCall) -> None:
        service = call.service
        source = source_of(call.context)
        data = {k: v for k, v in call.data.items() if k != "entity_id"}
        # Everything is checked for every entity before any device is told anything.
        for entity_id in call.entity_ids:
            state = hub.states.get(entity_id)
            if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
                raise DeviceUnavailable(
                    f"{domain}.{service}: {entity_id} is {state.state if state else 'not reporting yet'}; "
                    "nothing was sent"
                )
            check_against_device(domain, service, data, state)
            layer.book.admit(entity_id, domain, service, source)
        jobs = [layer.send(entity_id, domain, service, data, source, call.context, devices[entity_id])
                for entity_id in call.entity_ids]
        if len(jobs) == 1:
            await jobs[0]
            return
        # One slow or failing device must not hold up or cancel the others.
        for outcome in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    unsubscribes = [
        hub.services.register_for_entities(domain, service, handle, owns, schema,
                                           f"{DESCRIPTIONS[f'{domain}.{service}']} ({provider})")
        for service, schema in SCHEMAS[domain].items()
    ]

    def withdraw() -> None:
        for unsubscribe in unsubscribes:
            unsubscribe()
        layer.providers.pop((domain, provider), None)

    return withdraw
