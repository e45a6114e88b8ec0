"""The `meter:` device nature from JSON telemetry, and statestream publishing."""

from __future__ import annotations

import asyncio
import json
import logging

import aiomqtt
import pytest
import voluptuous as vol

from orbiteos.integrations import mqtt
from tests.integrations.mqtt.conftest import WAIT_S, SetupMqtt, round_trip, wait_for_state
from tests.servers.mosquitto import MosquittoBroker

SIM_TELEMETRY = {
    "power_kw": -3.25, "import_kwh": 1200.5, "export_kwh": 310.25, "frequency_hz": 49.98,
    "voltage_l1": 231.0, "voltage_l2": 229.5, "voltage_l3": 230.2,
    "current_l1": -4.7, "current_l2": -4.7, "current_l3": -4.7,
    "power_l1": -1.08, "power_l2": -1.08, "power_l3": -1.09,
}


async def test_meter_reads_the_simulator_telemetry_with_default_fields(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt({"meter": [{"name": "Grid", "state_topic": "orbiteos-sim/meter/grid"}]})
    await publisher.publish("orbiteos-sim/meter/grid", json.dumps(SIM_TELEMETRY))
    state = await wait_for_state(hub, "meter.grid", "-3.25")
    assert state.attributes["unit_of_measurement"] == "kW"
    for key, value in SIM_TELEMETRY.items():
        if key != "power_kw":
            assert state.attributes[key] == value, key


async def test_meter_fields_map_paths_and_scale(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt(
        {"meter": [{"name": "Main", "object_id": "main", "state_topic": "p1/telemetry",
                    "fields": {"power": {"path": "active.total_w", "scale": 0.001},
                               "import_kwh": "energy.import", "voltage_l1": "phases.0.v"}}]}
    )
    document = {"active": {"total_w": 4200}, "energy": {"import": 17.5}, "phases": [{"v": 230.1}]}
    await publisher.publish("p1/telemetry", json.dumps(document))
    state = await wait_for_state(hub, "meter.main", "4.2")
    assert state.attributes["import_kwh"] == 17.5
    assert state.attributes["voltage_l1"] == 230.1
    # A partial message updates what it carries and keeps the rest.
    await publisher.publish("p1/telemetry", json.dumps({"active": {"total_w": 1000}}))
    state = await wait_for_state(hub, "meter.main", "1.0")
    assert state.attributes["import_kwh"] == 17.5


async def test_meter_ignores_and_logs_malformed_telemetry(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await setup_mqtt({"meter": [{"name": "Grid", "state_topic": "m/grid"}]})
    await publisher.publish("m/grid", json.dumps({"power_kw": 2.0}))
    await wait_for_state(hub, "meter.grid", "2.0")
    with caplog.at_level(logging.WARNING, logger="orbiteos.integrations.mqtt"):
        await publisher.publish("m/grid", "{not json")
        await publisher.publish("m/grid", json.dumps({"power_kw": "lots"}))
        await publisher.publish("m/grid", json.dumps({"unrelated": 1}))
        await round_trip(hub, publisher)
    assert hub.states.get("meter.grid").state == "2.0"
    messages = [r.getMessage() for r in caplog.records]
    assert any("m/grid" in m and "not JSON" in m for m in messages), messages
    assert any("m/grid" in m and "not a number" in m for m in messages), messages
    assert any("m/grid" in m and "no known field" in m for m in messages), messages


async def test_statestream_publishes_included_states_only(setup_mqtt: SetupMqtt, mosquitto: MosquittoBroker) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher:
        await watcher.subscribe("eos/#")
        hub = await setup_mqtt(
            {"statestream": {"base_topic": "eos", "publish_attributes": True,
                             "include": {"domains": ["battery", "sensor"]},
                             "exclude": {"entities": ["sensor.noisy"]}}}
        )
        hub.states.set("battery.main", "-5.0", {"soc": 61.5})
        hub.states.set("sensor.noisy", "1")
        hub.states.set("pv.roof", "10")
        hub.states.set("sensor.price", "0.25")
        got: dict[str, bytes] = {}
        async with asyncio.timeout(WAIT_S):
            async for message in watcher.messages:
                got[message.topic.value] = message.payload
                if "eos/sensor/price/state" in got:
                    break
    assert got["eos/battery/main/state"] == b"-5.0"
    assert got["eos/battery/main/soc"] == b"61.5"
    assert not any(topic.startswith(("eos/sensor/noisy", "eos/pv/")) for topic in got)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"sensor": [{"state_topic": "a"}]}, "needs a 'name' or an 'object_id'"),
        ({"sensor": [{"name": "A", "state_topic": "a/#/b"}]}, "'#' must be the whole last level"),
        ({"sensor": [{"name": "A", "state_topic": "a"}, {"name": "a", "state_topic": "b"}]},
         "already used by sensor[0]"),
        ({"switch": [{"name": "S", "command_topic": "s/+"}]}, "may not contain the wildcards"),
        ({"port": 0}, "expected a TCP port"),
        ({"meter": [{"name": "M", "state_topic": "m", "fields": {"power": 5}}]}, "expected a JSON path"),
        ({"sensor": [{"name": "A", "state_topic": "a", "colour": "red"}]}, "extra keys not allowed"),
    ],
)
def test_config_errors_say_where_and_what(block: dict[str, object], message: str) -> None:
    with pytest.raises(vol.Invalid) as caught:
        mqtt.CONFIG_SCHEMA(block)
    assert message in str(caught.value)


def test_config_is_valid_twice() -> None:
    once = mqtt.CONFIG_SCHEMA({"sensor": [{"name": "A", "state_topic": "a", "expire_after": "00:01:00"}],
                               "birth_message": {}})
    assert once["birth_message"] is None
    assert once["sensor"][0]["expire_after"] == 60.0
    assert mqtt.CONFIG_SCHEMA(once) == once
