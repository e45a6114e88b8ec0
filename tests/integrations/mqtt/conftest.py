"""Helpers for the MQTT tests: a hub with the integration on the test broker, a publisher, waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiomqtt
import pytest

from orbiteos.core import Hub, State
from orbiteos.integrations import mqtt
from orbiteos.integrations.mqtt.connection import MqttConnection
from tests.servers.mosquitto import MosquittoBroker

WAIT_S = 10.0

SetupMqtt = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def setup_mqtt(mosquitto: MosquittoBroker) -> AsyncIterator[SetupMqtt]:
    """`await setup_mqtt({...})`: a started hub with `mqtt:` set up against the test broker and connected."""
    hubs: list[Hub] = []

    async def setup(block: dict[str, Any] | None = None, *, wait: bool = True) -> Hub:
        hub = Hub()
        hubs.append(hub)
        config = mqtt.CONFIG_SCHEMA(
            {"broker": mosquitto.host, "port": mosquitto.port, "reconnect_min_delay": 0.05,
             "reconnect_max_delay": 0.5, **(block or {})}
        )
        await mqtt.async_setup(hub, config)
        await hub.start()
        if wait:
            async with asyncio.timeout(WAIT_S):
                await connection(hub).wait_connected()
        return hub

    yield setup
    for hub in hubs:
        async with asyncio.timeout(WAIT_S):
            await hub.stop()


def connection(hub: Hub) -> MqttConnection:
    return mqtt.get_connection(hub)


@pytest.fixture
async def publisher(mosquitto: MosquittoBroker) -> AsyncIterator[aiomqtt.Client]:
    """A plain aiomqtt client on the test broker, for sending what a device would send."""
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-publisher") as client:
        yield client


async def wait_for_state(
    hub: Hub, entity_id: str, predicate: Callable[[State], bool] | str
) -> State:
    """Wait until `entity_id`'s state satisfies `predicate` (or equals the given string)."""
    check = (lambda s: s.state == predicate) if isinstance(predicate, str) else predicate
    current = hub.states.get(entity_id)
    if current is not None and check(current):
        return current
    reached = asyncio.get_running_loop().create_future()

    def on_change(event: Any) -> None:
        new = event.data["new_state"]
        if new is not None and check(new) and not reached.done():
            reached.set_result(new)

    unsubscribe = hub.states.listen(entity_id, on_change)
    try:
        async with asyncio.timeout(WAIT_S):
            return await reached
    except TimeoutError:
        last = hub.states.get(entity_id)
        raise AssertionError(f"{entity_id} never reached the expected state; last: {last}") from None
    finally:
        unsubscribe()


async def round_trip(hub: Hub, publisher: aiomqtt.Client, topic: str = "test/fence") -> None:
    """Publish on a marker topic and wait until the hub has seen it: everything sent before has arrived."""
    seen = asyncio.get_running_loop().create_future()

    def on_message(message: Any) -> None:
        if not seen.done():
            seen.set_result(message)

    unsubscribe = await mqtt.async_subscribe(hub, topic, on_message)
    try:
        await publisher.publish(topic, "fence")
        async with asyncio.timeout(WAIT_S):
            await seen
    finally:
        unsubscribe()
