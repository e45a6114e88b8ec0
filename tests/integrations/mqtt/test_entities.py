"""MQTT sensors, binary sensors and switches against a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import logging

import aiomqtt
import pytest

from orbiteos.core import STATE_UNAVAILABLE, Hub
from orbiteos.integrations import mqtt
from tests.integrations.mqtt.conftest import SetupMqtt, round_trip, wait_for_state
from tests.servers.mosquitto import MosquittoBroker


async def test_sensor_takes_the_payload_as_its_state(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt({"sensor": [{"name": "Site load", "state_topic": "site/load", "unit_of_measurement": "kW"}]})
    assert hub.states.get("sensor.site_load").state == "unknown"
    await publisher.publish("site/load", "12.5")
    state = await wait_for_state(hub, "sensor.site_load", "12.5")
    assert state.attributes["unit_of_measurement"] == "kW"
    assert state.attributes["friendly_name"] == "Site load"


async def test_value_template_reads_value_json(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt(
        {"sensor": [{"name": "PV power", "state_topic": "pv/telemetry",
                     "value_template": "{{ (value_json.ac.power_w / 1000) | round(2) }}", "unit_of_measurement": "kW"}]}
    )
    await publisher.publish("pv/telemetry", json.dumps({"ac": {"power_w": 12345}}))
    await wait_for_state(hub, "sensor.pv_power", "12.35")


async def test_value_template_gets_value_as_text(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt(
        {"sensor": [{"name": "Mode", "state_topic": "inverter/mode", "value_template": "{{ value | lower }}"}]}
    )
    await publisher.publish("inverter/mode", "GRID-TIED")
    await wait_for_state(hub, "sensor.mode", "grid-tied")


async def test_json_attributes_topic_sets_attributes(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt(
        {"sensor": [{"name": "Battery", "state_topic": "bat/soc", "json_attributes_topic": "bat/info",
                     "unit_of_measurement": "%"}]}
    )
    await publisher.publish("bat/soc", "57")
    await publisher.publish("bat/info", json.dumps({"soh": 98.5, "cells": 16, "friendly_name": "ignored"}))
    state = await wait_for_state(hub, "sensor.battery", lambda s: "soh" in s.attributes)
    assert state.state == "57"
    assert state.attributes["soh"] == 98.5
    assert state.attributes["cells"] == 16
    assert state.attributes["friendly_name"] == "Battery"


async def test_json_attributes_template_picks_a_sub_object(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt(
        {"sensor": [{"name": "Inverter", "state_topic": "inv/state", "json_attributes_topic": "inv/state",
                     "value_template": "{{ value_json.status }}",
                     "json_attributes_template": "{{ value_json.details | tojson }}"}]}
    )
    await publisher.publish("inv/state", json.dumps({"status": "ok", "details": {"temp_c": 41.5, "fan": "on"}}))
    state = await wait_for_state(hub, "sensor.inverter", lambda s: "temp_c" in s.attributes and s.state == "ok")
    assert state.attributes["fan"] == "on"


async def test_binary_sensor_maps_payload_on_and_off(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt(
        {"binary_sensor": [{"name": "Grid fault", "state_topic": "grid/fault", "payload_on": "1", "payload_off": "0"}]}
    )
    await publisher.publish("grid/fault", "1")
    await wait_for_state(hub, "binary_sensor.grid_fault", "on")
    await publisher.publish("grid/fault", "0")
    await wait_for_state(hub, "binary_sensor.grid_fault", "off")


async def test_switch_publishes_commands_and_follows_its_state_topic(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt(
        {"switch": [{"name": "Boiler", "command_topic": "boiler/set", "state_topic": "boiler/state"}]}
    )
    await publisher.subscribe("boiler/set")
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.boiler"})
    async with asyncio.timeout(10):
        message = await anext(aiter(publisher.messages))
    assert (message.topic.value, message.payload) == ("boiler/set", b"ON")
    # Not optimistic: the state follows the device's state topic, not the command.
    assert hub.states.get("switch.boiler").state == "unknown"
    await publisher.publish("boiler/state", "ON")
    await wait_for_state(hub, "switch.boiler", "on")


async def test_optimistic_switch_without_state_topic_assumes_the_command(setup_mqtt: SetupMqtt) -> None:
    hub = await setup_mqtt({"switch": [{"name": "Pump", "command_topic": "pump/set"}]})
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.pump"})
    assert hub.states.get("switch.pump").state == "on"
    await hub.services.call("switch", "toggle", target={"entity_id": "switch.pump"})
    assert hub.states.get("switch.pump").state == "off"


async def test_availability_topic_makes_the_entity_unavailable_and_back(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt(
        {"sensor": [{"name": "Meter power", "state_topic": "m/p", "availability_topic": "m/status"}]}
    )
    # Nothing heard on the availability topic yet: unavailable, as Home Assistant.
    await publisher.publish("m/p", "3.2")
    await round_trip(hub, publisher)
    assert hub.states.get("sensor.meter_power").state == STATE_UNAVAILABLE
    await publisher.publish("m/status", "online")
    await wait_for_state(hub, "sensor.meter_power", "3.2")
    await publisher.publish("m/status", "offline")
    await wait_for_state(hub, "sensor.meter_power", STATE_UNAVAILABLE)
    await publisher.publish("m/status", "online")
    await wait_for_state(hub, "sensor.meter_power", "3.2")


async def test_availability_mode_all_needs_every_topic(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt(
        {"sensor": [{"name": "Temp", "state_topic": "t/v", "availability_mode": "all",
                     "availability": [{"topic": "t/a"}, {"topic": "t/b", "payload_available": "1",
                                                         "payload_not_available": "0"}]}]}
    )
    await publisher.publish("t/v", "20")
    await publisher.publish("t/a", "online")
    await round_trip(hub, publisher)
    assert hub.states.get("sensor.temp").state == STATE_UNAVAILABLE
    await publisher.publish("t/b", "1")
    await wait_for_state(hub, "sensor.temp", "20")
    await publisher.publish("t/a", "offline")
    await wait_for_state(hub, "sensor.temp", STATE_UNAVAILABLE)


async def test_entities_are_unavailable_until_the_broker_connects(setup_mqtt: SetupMqtt) -> None:
    hub = await setup_mqtt({"sensor": [{"name": "X", "state_topic": "x"}]}, wait=False)
    assert hub.states.get("sensor.x").state == STATE_UNAVAILABLE
    await wait_for_state(hub, "sensor.x", "unknown")


@pytest.mark.parametrize(
    ("sensor", "payload", "complaint"),
    [
        ({"value_template": "{{ value_json.power }}"}, "not json at all", "value_template failed"),
        ({"unit_of_measurement": "kW"}, "twelve", "expected a number"),
        ({"value_template": "{{ value_json.missing }}"}, '{"power": 1}', "gave nothing"),
    ],
)
async def test_malformed_payload_is_logged_with_its_topic_and_ignored(
    setup_mqtt: SetupMqtt,
    publisher: aiomqtt.Client,
    caplog: pytest.LogCaptureFixture,
    sensor: dict[str, str],
    payload: str,
    complaint: str,
) -> None:
    hub = await setup_mqtt({"sensor": [{"name": "P", "state_topic": "dev/p", **sensor}]})
    good = '{"power": 7, "missing": 7}' if "value_template" in sensor else "7"
    await publisher.publish("dev/p", good)
    await wait_for_state(hub, "sensor.p", "7")
    with caplog.at_level(logging.WARNING, logger="orbiteos.integrations.mqtt"):
        await publisher.publish("dev/p", payload)
        await round_trip(hub, publisher)
    assert hub.states.get("sensor.p").state == "7"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(complaint in w and "dev/p" in w for w in warnings), warnings


async def test_malformed_json_attributes_are_logged_and_keep_the_old_ones(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await setup_mqtt({"sensor": [{"name": "A", "state_topic": "a/s", "json_attributes_topic": "a/j"}]})
    await publisher.publish("a/j", '{"k": 1}')
    await wait_for_state(hub, "sensor.a", lambda s: s.attributes.get("k") == 1)
    with caplog.at_level(logging.WARNING, logger="orbiteos.integrations.mqtt"):
        await publisher.publish("a/j", "[1, 2")
        await round_trip(hub, publisher)
    assert hub.states.get("sensor.a").attributes["k"] == 1
    assert any("a/j" in r.getMessage() and "not JSON" in r.getMessage() for r in caplog.records)


async def test_expire_after_makes_a_silent_sensor_unavailable(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt({"sensor": [{"name": "E", "state_topic": "e", "expire_after": 0.2}]})
    await publisher.publish("e", "1")
    await wait_for_state(hub, "sensor.e", "1")
    await wait_for_state(hub, "sensor.e", STATE_UNAVAILABLE)
    await publisher.publish("e", "2")
    await wait_for_state(hub, "sensor.e", "2")


async def test_switch_services_pass_other_switches_to_the_integration_registered_before(
    mosquitto: MosquittoBroker,
) -> None:
    hub = Hub()
    handled_elsewhere: list[list[str]] = []
    hub.services.register_for_entities("switch", "turn_on", lambda call: handled_elsewhere.append(call.entity_ids),
                                       lambda e: e == "switch.modbus_fan")  # e.g. a Modbus switch
    config = mqtt.CONFIG_SCHEMA(
        {"port": mosquitto.port, "switch": [{"name": "Pump", "command_topic": "pump/set"}]}
    )
    await mqtt.async_setup(hub, config)
    try:
        async with asyncio.timeout(10):
            await mqtt.get_connection(hub).wait_connected()
        await hub.services.call("switch", "turn_on", target={"entity_id": ["switch.pump", "switch.modbus_fan"]})
        assert hub.states.get("switch.pump").state == "on"
        assert handled_elsewhere == [["switch.modbus_fan"]]
    finally:
        await hub.stop()
