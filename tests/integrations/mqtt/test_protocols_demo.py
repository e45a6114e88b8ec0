"""End to end with the real simulator: config.example's site served over MQTT, read by the protocols package."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import yaml

from orbiteos.config import load_config
from orbiteos.core import Hub
from orbiteos.integrations import mqtt
from orbiteos.integrations.mqtt import sim_server
from orbiteos.loader import setup_integrations
from tests.integrations.mqtt.conftest import WAIT_S, wait_for_state
from tests.servers.mosquitto import MosquittoBroker

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "config.example"
PACKAGE = DEMO / "protocols" / "packages" / "mqtt.yaml"


def protocols_mqtt_block(broker: MosquittoBroker) -> dict[str, Any]:
    """The protocols package's `mqtt:` block, pointed at the test broker."""
    block = yaml.safe_load(PACKAGE.read_text(encoding="utf-8"))["mqtt"]
    return mqtt.CONFIG_SCHEMA({**block, "port": broker.port, "client_id": f"protocols-{os.getpid()}"})


async def reader_hub(broker: MosquittoBroker) -> Hub:
    hub = Hub()
    await mqtt.async_setup(hub, protocols_mqtt_block(broker))
    await hub.start()
    return hub


async def test_protocols_package_follows_the_simulated_meter_and_sets_the_battery(
    mosquitto: MosquittoBroker,
) -> None:
    loaded = load_config(DEMO)
    assert loaded.errors == []
    site = Hub(config=loaded.site)
    result = await setup_integrations(site, {"sim": loaded.blocks["sim"]})
    assert result.failed == {}
    await site.start()
    parser = argparse.ArgumentParser()
    sim_server.add_arguments(parser)
    args = parser.parse_args(["--mqtt-port", str(mosquitto.port), "--mqtt-interval", "0.1"])
    serving = asyncio.create_task(sim_server.serve(site, args))
    reader = await reader_hub(mosquitto)
    try:
        # The simulator steps once a second and telemetry goes out every 0.1 s: the reader's meter
        # catches up with the simulated one, state and attributes.
        def same_as_simulated(state: Any) -> bool:
            simulated = site.states.get("meter.grid")
            return state.state == simulated.state and all(
                state.attributes.get(k) == simulated.attributes[k] for k in ("import_kwh", "frequency_hz", "voltage_l1")
            )

        state = await wait_for_state(reader, "meter.grid", same_as_simulated)
        assert set(state.attributes) >= {"import_kwh", "export_kwh", "frequency_hz", "voltage_l1", "current_l3"}
        assert reader.states.get("binary_sensor.simulated_devices_online").state == "on"
        # A battery setpoint over MQTT reaches the simulated battery.
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as operator:
            await operator.publish("orbiteos-sim/battery/main/set_power", "-12.5", qos=1)
        await wait_for_state(site, "battery.main", lambda s: s.attributes.get("setpoint_kw") == -12.5)
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(WAIT_S):
                await serving
        async with asyncio.timeout(WAIT_S):
            await reader.stop()
            await site.stop()


async def test_killed_sim_devices_leaves_its_last_will_and_the_meter_goes_unavailable(
    mosquitto: MosquittoBroker,
) -> None:
    reader = await reader_hub(mosquitto)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orbiteos.cli", "sim-devices", "-c", str(DEMO), "--no-modbus", "--no-ocpp",
        "--mqtt-port", str(mosquitto.port), "--mqtt-interval", "0.1",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for_state(reader, "meter.grid", lambda s: s.state not in ("unknown", "unavailable"))
        await wait_for_state(reader, "binary_sensor.simulated_devices_online", "on")
        # No clean disconnect: the broker publishes the will, `offline` on orbiteos-sim/status.
        process.send_signal(signal.SIGKILL)
        async with asyncio.timeout(WAIT_S):
            await process.wait()
        await wait_for_state(reader, "meter.grid", "unavailable")
        await wait_for_state(reader, "binary_sensor.simulated_devices_online", "off")
    finally:
        if process.returncode is None:
            process.kill()
            async with asyncio.timeout(WAIT_S):
                await process.wait()
        async with asyncio.timeout(WAIT_S):
            await reader.stop()
