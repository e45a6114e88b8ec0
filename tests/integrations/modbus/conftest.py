"""Helpers for the Modbus tests: a hub with `modbus:` set up from a dict, and bounded waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from orbiteos.core import Hub, State
from orbiteos.integrations import modbus

WAIT_S = 10.0

SetupModbus = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def setup_modbus() -> AsyncIterator[SetupModbus]:
    """`await setup_modbus([hub, ...])`: a started hub with the validated `modbus:` block set up."""
    hubs: list[Hub] = []

    async def setup(block: list[dict[str, Any]], hub: Hub | None = None) -> Hub:
        hub = hub or Hub()
        hubs.append(hub)
        await modbus.async_setup(hub, modbus.CONFIG_SCHEMA(block))
        await hub.start()
        return hub

    yield setup
    for hub in hubs:
        async with asyncio.timeout(WAIT_S):
            await hub.stop()


async def until(predicate: Callable[[], bool], within: float = WAIT_S) -> None:
    """Wait (bounded) until `predicate()` holds; polls, as the state is written by another task."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def wait_state(hub: Hub, entity_id: str, predicate: Callable[[State], bool] | str) -> State:
    check = predicate if callable(predicate) else (lambda s: s.state == predicate)

    def ready() -> bool:
        state = hub.states.get(entity_id)
        return state is not None and check(state)

    await until(ready)
    state = hub.states.get(entity_id)
    assert state is not None
    return state


def poller(hub: Hub, name: str, device_id: int = 1) -> Any:
    return hub.data["modbus"].pollers[(name, device_id)]
