"""Home Assistant's MQTT conventions, checked with an aiomqtt client on a real mosquitto."""

from __future__ import annotations

import asyncio
import logging

import aiomqtt
import pytest

from orbiteos.integrations.mqtt import get_connection
from tests.integrations.mqtt.conftest import WAIT_S, SetupMqtt, round_trip, wait_for_state
from tests.servers.mosquitto import MosquittoBroker


async def _retained(mosquitto: MosquittoBroker, topic: str) -> aiomqtt.Message:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher:
        await watcher.subscribe(topic, qos=1)
        async with asyncio.timeout(WAIT_S):
            return await anext(aiter(watcher.messages))


async def test_clean_stop_leaves_the_status_retained_offline(
    setup_mqtt: SetupMqtt, mosquitto: MosquittoBroker
) -> None:
    hub = await setup_mqtt({"birth_message": {"retain": True, "qos": 1}, "will_message": {"retain": True, "qos": 1}})
    online = await _retained(mosquitto, "orbiteos/status")
    assert (online.payload, online.retain) == (b"online", True)
    async with asyncio.timeout(WAIT_S):
        await hub.stop()
    offline = await _retained(mosquitto, "orbiteos/status")
    assert (offline.payload, offline.retain) == (b"offline", True)


async def test_payload_none_resets_numeric_and_binary_sensors_to_unknown(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt({
        "sensor": [{"name": "Hall temperature", "state_topic": "hall/t", "unit_of_measurement": "°C"}],
        "binary_sensor": [{"name": "Hall door", "state_topic": "hall/door"}],
    })
    await publisher.publish("hall/t", "21.5")
    await publisher.publish("hall/door", "ON")
    await wait_for_state(hub, "sensor.hall_temperature", "21.5")
    await wait_for_state(hub, "binary_sensor.hall_door", "on")
    await publisher.publish("hall/t", "None")
    await publisher.publish("hall/door", "None")
    await wait_for_state(hub, "sensor.hall_temperature", "unknown")
    await wait_for_state(hub, "binary_sensor.hall_door", "unknown")


async def test_values_are_stripped_of_surrounding_whitespace(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt({
        "sensor": [
            {"name": "Raw", "state_topic": "ws/raw", "unit_of_measurement": "°C"},
            {"name": "Text", "state_topic": "ws/text"},
        ],
        "binary_sensor": [{"name": "Flag", "state_topic": "ws/flag"}],
    })
    await publisher.publish("ws/raw", " 22 ")
    await publisher.publish("ws/text", "\tidle \n")
    await publisher.publish("ws/flag", " ON ")
    await wait_for_state(hub, "sensor.raw", "22")
    await wait_for_state(hub, "sensor.text", "idle")
    await wait_for_state(hub, "binary_sensor.flag", "on")


async def test_a_state_over_255_characters_is_refused_and_the_sensor_falls_back_to_unknown(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await setup_mqtt({"sensor": [{"name": "Note", "state_topic": "site/note"}]})
    await publisher.publish("site/note", "n" * 255)
    await wait_for_state(hub, "sensor.note", "n" * 255)
    with caplog.at_level(logging.ERROR, logger="orbiteos.entity"):
        await publisher.publish("site/note", "n" * 256)
        await wait_for_state(hub, "sensor.note", "unknown")
    assert "sensor.note: a state is at most 255 characters" in caplog.text
    assert "this one has 256" in caplog.text


async def test_statestream_publishes_with_qos_1_and_retained(
    setup_mqtt: SetupMqtt, mosquitto: MosquittoBroker, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt({"statestream": {"base_topic": "eos", "include": {"domains": ["meter"]}}})
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher:
        await watcher.subscribe("eos/meter/grid/state", qos=2)  # delivered at the QoS it was published with
        hub.states.set("meter.grid", "12.5")
        async with asyncio.timeout(WAIT_S):
            message = await anext(aiter(watcher.messages))
    assert (message.payload, message.qos) == (b"12.5", 1)
    await round_trip(hub, publisher)
    assert get_connection(hub).connected
    retained = await _retained(mosquitto, "eos/meter/grid/state")
    assert (retained.payload, retained.retain, retained.qos) == (b"12.5", True, 1)
