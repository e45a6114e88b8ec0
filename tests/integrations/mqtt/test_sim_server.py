"""`sim-devices` over MQTT: telemetry out, battery setpoints in, read back by the `mqtt:` integration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest

from orbiteos.core import Hub, ServiceCall
from orbiteos.integrations.mqtt import sim_server
from tests.integrations.mqtt.conftest import WAIT_S, SetupMqtt, wait_for_state
from tests.servers.mosquitto import MosquittoBroker

METER_ATTRIBUTES = {
    "import_kwh": 10.5, "export_kwh": 2.25, "frequency_hz": 49.97,
    "voltage_l1": 231.2, "voltage_l2": 230.8, "voltage_l3": 229.9,
    "current_l1": 7.1, "current_l2": 7.0, "current_l3": 6.9,
    "power_l1": 1.6, "power_l2": 1.6, "power_l3": 1.6, "unit_of_measurement": "kW",
}


def simulated_site(hub: Hub) -> Calls:
    """States as the simulator writes them, and a recording `battery` service standing in for its physics."""
    hub.states.set("meter.grid", "4.8", METER_ATTRIBUTES)
    hub.states.set("ev_charger.charger", "11.0", {"status": "Charging", "limit_kw": 11.0, "session_kwh": 3.2,
                                                  "vehicle_soc": 45.0, "connector_id": 1})
    hub.states.set("battery.home", "0.0", {"soc": 50.0, "setpoint_kw": None})
    calls = Calls()
    hub.services.register("battery", "set_power", calls.record)
    hub.services.register("battery", "auto", calls.record)
    return calls


class Calls(list[ServiceCall]):
    """Service calls as they arrive, with a way to wait for a number of them."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    def record(self, call: ServiceCall) -> None:
        self.append(call)
        self.arrived.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(WAIT_S):
            while len(self) < count:
                self.arrived.clear()
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def serving(hub: Hub, broker: MosquittoBroker, prefix: str = "sim") -> AsyncIterator[None]:
    parser = argparse.ArgumentParser()
    sim_server.add_arguments(parser)
    args = parser.parse_args(
        ["--mqtt-host", broker.host, "--mqtt-port", str(broker.port), "--mqtt-prefix", prefix,
         "--mqtt-interval", "0.05"]
    )
    task = asyncio.create_task(sim_server.serve(hub, args))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(WAIT_S):
                await task


async def next_message(client: aiomqtt.Client, topic: str) -> aiomqtt.Message:
    async with asyncio.timeout(WAIT_S):
        async for message in client.messages:
            if message.topic.matches(topic):
                return message
    raise AssertionError("unreachable")


async def test_meter_and_charger_telemetry_is_published_as_json(mosquitto: MosquittoBroker) -> None:
    hub = Hub()
    simulated_site(hub)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher, serving(hub, mosquitto):
        await watcher.subscribe("sim/#")
        got: dict[str, bytes] = {}
        async with asyncio.timeout(WAIT_S):
            async for message in watcher.messages:
                got[message.topic.value] = message.payload
                if {"sim/meter/grid", "sim/ev_charger/charger", "sim/status"} <= set(got):
                    break
    meter = json.loads(got["sim/meter/grid"])
    charger = json.loads(got["sim/ev_charger/charger"])
    assert meter["power_kw"] == 4.8
    assert {k: meter[k] for k in METER_ATTRIBUTES if k != "unit_of_measurement"} == {
        k: v for k, v in METER_ATTRIBUTES.items() if k != "unit_of_measurement"
    }
    assert "unit_of_measurement" not in meter
    assert charger["power_kw"] == 11.0
    assert charger["status"] == "Charging"
    assert charger["vehicle_soc"] == 45.0
    assert got["sim/status"] == b"online"


async def test_battery_setpoints_over_mqtt_become_service_calls(
    mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    hub = Hub()
    calls = simulated_site(hub)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device, serving(hub, mosquitto):
        await device.subscribe("sim/status")
        await next_message(device, "sim/status")  # the server is connected and subscribed
        with caplog.at_level(logging.WARNING):
            await device.publish("sim/battery/home/set_power", "-7.5", qos=1)
            await device.publish("sim/battery/home/set_power", "lots", qos=1)
            await device.publish("sim/battery/home/set_power", json.dumps({"power_kw": 3}), qos=1)
            await device.publish("sim/battery/home/auto", "", qos=1)
            await calls.wait_for(3)
    assert [(c.service, dict(c.data)) for c in calls] == [
        ("set_power", {"power_kw": -7.5, "entity_id": ["battery.home"]}),
        ("set_power", {"power_kw": 3.0, "entity_id": ["battery.home"]}),
        ("auto", {"entity_id": ["battery.home"]}),
    ]
    assert any("sim/battery/home/set_power" in r.getMessage() and "'lots'" in r.getMessage() for r in caplog.records)


async def test_mqtt_meter_reads_what_sim_devices_publishes(
    setup_mqtt: SetupMqtt, mosquitto: MosquittoBroker
) -> None:
    site = Hub()
    simulated_site(site)
    reader = await setup_mqtt(
        {"meter": [{"name": "Grid", "state_topic": "sim/meter/grid", "availability_topic": "sim/status"}]}
    )
    async with serving(site, mosquitto):
        state = await wait_for_state(reader, "meter.grid", "4.8")
        assert state.attributes["frequency_hz"] == 49.97
        assert state.attributes["voltage_l3"] == 229.9
        site.states.set("meter.grid", "-2.5", METER_ATTRIBUTES)
        await wait_for_state(reader, "meter.grid", "-2.5")
    # sim-devices stopped cleanly and said so: `offline` on its status topic.
    await wait_for_state(reader, "meter.grid", "unavailable")


def test_no_mqtt_option_is_offered() -> None:
    parser = argparse.ArgumentParser()
    sim_server.add_arguments(parser)
    args: Any = parser.parse_args(["--no-mqtt"])
    assert args.no_mqtt and args.mqtt_prefix == "orbiteos-sim" and args.mqtt_interval == 1.0
