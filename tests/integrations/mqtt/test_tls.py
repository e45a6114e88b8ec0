"""TLS to the broker: a CA file and a client certificate, against mosquitto requiring both."""

from __future__ import annotations

import asyncio
import logging
import ssl

import aiomqtt
import pytest

from orbiteos.core import STATE_UNAVAILABLE, Hub
from orbiteos.integrations import mqtt
from tests.integrations.mqtt.conftest import WAIT_S, wait_for_state
from tests.servers.mosquitto import MosquittoBroker, TlsMaterial


def device_tls(material: TlsMaterial) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=material.ca_cert)
    context.load_cert_chain(material.client_cert, material.client_key)
    return context


async def start_hub(broker: MosquittoBroker, tls: dict[str, object]) -> Hub:
    hub = Hub()
    config = mqtt.CONFIG_SCHEMA(
        {"port": broker.port, "tls": tls, "timeout": 2, "reconnect_min_delay": 0.05, "reconnect_max_delay": 0.2,
         "sensor": [{"name": "Secure", "state_topic": "secure/value"}]}
    )
    await mqtt.async_setup(hub, config)
    await hub.start()
    return hub


async def test_sensor_over_tls_with_a_client_certificate(
    mosquitto_tls: tuple[MosquittoBroker, TlsMaterial],
) -> None:
    broker, material = mosquitto_tls
    hub = await start_hub(
        broker,
        {"certificate": material.ca_cert, "client_cert": material.client_cert, "client_key": material.client_key},
    )
    try:
        async with asyncio.timeout(WAIT_S):
            await mqtt.get_connection(hub).wait_connected()
        async with aiomqtt.Client(broker.host, broker.port, tls_context=device_tls(material)) as device:
            await device.publish("secure/value", "42")
            await wait_for_state(hub, "sensor.secure", "42")
    finally:
        async with asyncio.timeout(WAIT_S):
            await hub.stop()


async def test_without_the_client_certificate_the_broker_refuses_and_entities_stay_unavailable(
    mosquitto_tls: tuple[MosquittoBroker, TlsMaterial], caplog: pytest.LogCaptureFixture
) -> None:
    broker, material = mosquitto_tls
    with caplog.at_level(logging.WARNING, logger="orbiteos.integrations.mqtt"):
        hub = await start_hub(broker, {"certificate": material.ca_cert})
        try:
            connection = mqtt.get_connection(hub)
            async with asyncio.timeout(WAIT_S):
                while connection.client.stats.last_error is None:  # noqa: ASYNC110 (a counter, no event)
                    await asyncio.sleep(0.05)
            assert not connection.connected
            assert hub.states.get("sensor.secure").state == STATE_UNAVAILABLE
        finally:
            async with asyncio.timeout(WAIT_S):
                await hub.stop()
    assert any(f"MQTT broker 127.0.0.1:{broker.port}" in r.getMessage() for r in caplog.records)
