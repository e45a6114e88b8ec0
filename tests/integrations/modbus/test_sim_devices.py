"""`orbiteos sim-devices` as a subprocess: the real simulator served over Modbus TCP, read and
controlled through the integration, configured as config.example/protocols configures it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orbiteos.config import load_config
from orbiteos.core import Hub, SiteConfig
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations import modbus
from orbiteos.integrations.modbus.sim_server import DeviceServer, battery_image, battery_write, pv_image, pv_write
from tests.integrations.modbus.conftest import SetupModbus, wait_state

ROOT = Path(__file__).resolve().parents[3]


def noon_longitude() -> float:
    """A longitude where the sun is high right now, so the simulated PV produces whenever the test runs."""
    now = datetime.now(UTC)
    return round(((12.0 - now.hour - now.minute / 60.0) * 15.0 + 180.0) % 360.0 - 180.0, 2)


SIM_YAML = """\
orbiteos:
  name: sim-devices test
  time_zone: UTC
  latitude: 0
  longitude: {longitude}
sim:
  seed: 7
  step: 0.2
  pv:
    - name: roof
      peak_power_kw: 20
  battery:
    - name: main
      capacity_kwh: 40
      max_charge_kw: 10
      max_discharge_kw: 10
      initial_soc: 50
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sim_devices(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    (tmp_path / "configuration.yaml").write_text(SIM_YAML.format(longitude=noon_longitude()))
    pv_port, battery_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orbiteos.cli", "sim-devices", "-c", str(tmp_path), "--no-mqtt", "--no-ocpp",
         "--modbus-pv-port", str(pv_port), "--modbus-battery-port", str(battery_port),
         "--modbus-meter-port", str(free_port())],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield process, pv_port, battery_port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def protocols_modbus_block(pv_port: int, battery_port: int) -> list[dict[str, Any]]:
    """config.example/protocols' modbus block, pointed at the test's ports and polled faster."""
    loaded = load_config(ROOT / "config.example" / "protocols")
    assert loaded.errors == []
    block = [dict(hub) for hub in loaded.blocks["modbus"]]
    for hub in block:
        hub["port"] = pv_port if hub["name"] == "inverter" else battery_port
        hub["retry_max"] = 0.5
        for key in ("pv", "battery", "sensors"):
            hub[key] = [{**item, "scan_interval": 0.1} for item in hub.get(key, [])]
    return block


async def test_sim_devices_serves_the_simulator_over_modbus(
    sim_devices: tuple[subprocess.Popen[str], int, int], setup_modbus: SetupModbus
) -> None:
    process, pv_port, battery_port = sim_devices
    hub = await setup_modbus(protocols_modbus_block(pv_port, battery_port))
    battery = await wait_state(hub, "battery.main", lambda s: s.state != "unavailable")
    assert battery.attributes["soc"] == pytest.approx(50.0, abs=1.0)
    assert battery.attributes["capacity_kwh"] == 40.0
    assert battery.attributes["max_discharge_kw"] == 10.0
    roof = await wait_state(hub, "pv.roof", lambda s: s.state != "unavailable")
    assert roof.attributes["inverter_kw"] == 20.0
    assert roof.attributes["limit_kw"] == 20.0

    # Control through Modbus: the simulated battery follows the setpoint, read back over Modbus.
    await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": -4})
    await wait_state(hub, "battery.main", lambda s: s.attributes.get("setpoint_kw") == -4.0)
    await wait_state(hub, "battery.main", "-4.0")
    await hub.services.call("battery", "auto", {"entity_id": "battery.main"})
    await wait_state(hub, "battery.main", lambda s: s.attributes.get("setpoint_kw") is None)

    await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "percent": 40})
    await wait_state(hub, "pv.roof", lambda s: s.attributes.get("limit_kw") == 8.0)
    await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "power_kw": 5})
    await wait_state(hub, "pv.roof", lambda s: s.attributes.get("limit_kw") == 5.0)

    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.to_thread(process.communicate, timeout=15)
    assert process.returncode == 0, output
    assert "serving registers 40000..40177" in output
    assert "sim-devices: stopping" in output


async def test_the_real_simulator_behind_the_in_process_servers(setup_modbus: SetupModbus) -> None:
    """The same servers on the simulator itself, in this process (no subprocess, no stand-in)."""
    from orbiteos.integrations import sim

    device_hub = Hub(config=SiteConfig(latitude=0.0, longitude=noon_longitude()))
    await sim.async_setup(device_hub, {"step": 0.1, "pv": [{"name": "roof", "peak_power_kw": 8}],
                                       "battery": [{"name": "main", "capacity_kwh": 10, "max_charge_kw": 3,
                                                    "max_discharge_kw": 3}]})
    await device_hub.start()
    pv = DeviceServer(device_hub, "pv.roof", pv_image, pv_write)
    battery = DeviceServer(device_hub, "battery.main", battery_image, battery_write)
    await pv.start()
    await battery.start()
    try:
        hub = await setup_modbus(modbus.CONFIG_SCHEMA(protocols_modbus_block(pv.port, battery.port)))
        await wait_state(hub, "battery.main", lambda s: s.attributes.get("capacity_kwh") == 10.0)
        with pytest.raises(ServiceValidationError, match="battery.main can discharge at most 3 kW, found 5"):
            await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": 5})
        await hub.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": 2.5})
        sim_state = await wait_state(device_hub, "battery.main", lambda s: s.attributes.get("setpoint_kw") == 2.5)
        assert sim_state.attributes["mode"] == "manual"
        await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "percent": 50})
        await wait_state(device_hub, "pv.roof", lambda s: s.attributes.get("limit_kw") == 4.0)
    finally:
        await pv.stop()
        await battery.stop()
        await device_hub.stop()
