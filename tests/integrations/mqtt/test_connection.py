"""The broker link: restarts mid-stream, a broker that is down at start, birth message, publish, subscribe."""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import pytest

from orbiteos.core import STATE_UNAVAILABLE
from orbiteos.errors import DeviceUnavailable, ServiceValidationError
from orbiteos.integrations import mqtt
from tests.integrations.mqtt.conftest import WAIT_S, SetupMqtt, connection, round_trip, wait_for_state
from tests.servers.mosquitto import MosquittoBroker


async def test_broker_restart_mid_stream_recovers_entities_and_subscriptions(
    setup_mqtt: SetupMqtt, mosquitto: MosquittoBroker
) -> None:
    hub = await setup_mqtt({"sensor": [{"name": "Grid", "state_topic": "meter/grid"}]})
    received: list[str] = []
    await mqtt.async_subscribe(hub, "meter/#", lambda m: received.append(m.payload))
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device:
        for value in range(5):
            await device.publish("meter/grid", str(value))
        await wait_for_state(hub, "sensor.grid", "4")
    # The broker goes away in the middle of the stream.
    mosquitto.stop()
    await wait_for_state(hub, "sensor.grid", STATE_UNAVAILABLE)
    assert not connection(hub).connected
    mosquitto.restart()
    async with asyncio.timeout(WAIT_S):
        await connection(hub).wait_connected()
    # Connected again: the entity is no longer unavailable and it is subscribed again.
    await wait_for_state(hub, "sensor.grid", lambda s: s.state != STATE_UNAVAILABLE)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device:
        await device.publish("meter/grid", "42")
        await wait_for_state(hub, "sensor.grid", "42")
    assert received[-1] == "42"
    assert connection(hub).client.stats.connects == 2


async def test_broker_down_at_start_is_no_error_and_connects_later(
    setup_mqtt: SetupMqtt, mosquitto: MosquittoBroker
) -> None:
    mosquitto.stop()
    hub = await setup_mqtt({"sensor": [{"name": "Late", "state_topic": "late"}]}, wait=False)
    assert hub.states.get("sensor.late").state == STATE_UNAVAILABLE
    with pytest.raises(DeviceUnavailable, match="not connected"):
        await hub.services.call("mqtt", "publish", {"topic": "x", "payload": "1"})
    mosquitto.restart()
    async with asyncio.timeout(WAIT_S):
        await connection(hub).wait_connected()
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device:
        await device.publish("late", "ok")
        await wait_for_state(hub, "sensor.late", "ok")


async def test_birth_message_is_published_on_connect(mosquitto: MosquittoBroker, setup_mqtt: SetupMqtt) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher:
        await watcher.subscribe("site/status")
        await setup_mqtt({"birth_message": {"topic": "site/status", "payload": "up"},
                          "will_message": {"topic": "site/status", "payload": "down"}})
        async with asyncio.timeout(WAIT_S):
            message = await anext(aiter(watcher.messages))
    assert (message.topic.value, message.payload) == ("site/status", b"up")


async def test_publish_service_sends_payload_qos_and_retain(
    setup_mqtt: SetupMqtt, mosquitto: MosquittoBroker
) -> None:
    hub = await setup_mqtt()
    hub.states.set("sensor.price", "0.31")
    await hub.services.call("mqtt", "publish", {"topic": "out/plain", "payload": "hello", "qos": 1, "retain": True})
    await hub.services.call(
        "mqtt", "publish",
        {"topic": "out/templated", "payload_template": "{{ states('sensor.price') | float * 100 }}", "retain": True},
    )
    await hub.services.call("mqtt", "publish", {"topic": "out/json", "payload": {"power_kw": 5}, "retain": True})
    # Retained: a client that subscribes afterwards still gets them.
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as late:
        await late.subscribe("out/#", qos=1)
        got: dict[str, tuple[bytes, int, bool]] = {}
        async with asyncio.timeout(WAIT_S):
            async for message in late.messages:
                got[message.topic.value] = (message.payload, message.qos, message.retain)
                if len(got) == 3:
                    break
    assert got["out/plain"] == (b"hello", 1, True)
    assert got["out/templated"][0] == b"31.0"
    assert got["out/json"][0] == b'{"power_kw": 5}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"topic": "a/+/b", "payload": "x"}, "may not contain the wildcards"),
        ({"topic": "a", "payload": "x", "payload_template": "y"}, "payload"),
        ({"payload": "x"}, "topic"),
    ],
)
async def test_publish_service_rejects_bad_data(setup_mqtt: SetupMqtt, data: dict[str, Any], message: str) -> None:
    hub = await setup_mqtt()
    with pytest.raises(ServiceValidationError, match=message):
        await hub.services.call("mqtt", "publish", data)


async def test_subscribers_of_one_topic_are_counted(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt()
    first: list[str] = []
    second: list[str] = []
    unsubscribe_first = await mqtt.async_subscribe(hub, "shared/t", lambda m: first.append(m.payload))
    await mqtt.async_subscribe(hub, "shared/t", lambda m: second.append(m.payload))
    await publisher.publish("shared/t", "1")
    await round_trip(hub, publisher)
    unsubscribe_first()
    await publisher.publish("shared/t", "2")
    await round_trip(hub, publisher)
    assert first == ["1"]
    assert second == ["1", "2"]


async def test_a_failing_subscriber_does_not_stop_the_others(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await setup_mqtt()
    got: list[str] = []

    def broken(message: Any) -> None:
        raise RuntimeError("boom")

    await mqtt.async_subscribe(hub, "x/#", broken)
    await mqtt.async_subscribe(hub, "x/y", lambda m: got.append(m.payload))
    await publisher.publish("x/y", "still here")
    await round_trip(hub, publisher)
    assert got == ["still here"]
    assert any("x/y" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_subscribe_without_mqtt_set_up_says_what_is_missing() -> None:
    from orbiteos.core import Hub
    from orbiteos.errors import ConfigError

    with pytest.raises(ConfigError, match="add an 'mqtt:' block"):
        mqtt.get_connection(Hub())


async def test_subscribe_refuses_a_malformed_topic_filter(setup_mqtt: SetupMqtt) -> None:
    hub = await setup_mqtt()
    with pytest.raises(ValueError, match="'#' must be the whole last level"):
        await mqtt.async_subscribe(hub, "a/#/b", lambda m: None)
    with pytest.raises(ValueError, match="QoS"):
        await mqtt.async_subscribe(hub, "a", lambda m: None, qos=3)


async def test_mqtt_5_works_as_3_1_1(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt({"protocol": "5", "sensor": [{"name": "V5", "state_topic": "v5/value"}]})
    await publisher.publish("v5/value", "5")
    await wait_for_state(hub, "sensor.v5", "5")
