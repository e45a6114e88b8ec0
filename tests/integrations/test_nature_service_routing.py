"""One hub, two providers of the battery nature: the simulator and a Modbus battery on a real pymodbus
server. A `battery.*` call is split by entity between them, whichever was set up first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orbiteos.core import Hub
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations import modbus, sim
from tests.integrations.modbus.conftest import wait_state
from tests.servers.modbus import ModbusTestDevice

SIM_BLOCK: dict[str, Any] = {"battery": {"name": "home", "capacity_kwh": 10, "max_charge_kw": 5,
                                         "max_discharge_kw": 5, "initial_soc": 50}}


def modbus_block(device: ModbusTestDevice) -> list[dict[str, Any]]:
    battery = {"name": "store", "scan_interval": 0.05,
               "registers": {"power": {"address": 0, "data_type": "int32", "scale": 0.001}},
               "controls": {"set_power": {"address": 17, "data_type": "int32", "scale": 0.001}}}
    return [{"name": "plant", "host": device.host, "port": device.port, "timeout": 1, "retry_max": 0.2,
             "battery": [battery]}]


@pytest.mark.parametrize("sim_first", [True, False], ids=["sim_then_modbus", "modbus_then_sim"])
async def test_one_battery_call_reaches_the_simulated_and_the_modbus_battery(
    modbus_device: ModbusTestDevice, sim_first: bool
) -> None:
    hub = Hub()

    async def set_up_sim() -> None:
        await sim.async_setup(hub, SIM_BLOCK)

    async def set_up_modbus() -> None:
        await modbus.async_setup(hub, modbus.CONFIG_SCHEMA(modbus_block(modbus_device)))

    for set_up in (set_up_sim, set_up_modbus) if sim_first else (set_up_modbus, set_up_sim):
        await set_up()
    await hub.start()
    try:
        async with asyncio.timeout(10):
            await wait_state(hub, "battery.store", "0.0")
            await hub.services.call("battery", "set_power", {"power_kw": 2.5},
                                    target={"entity_id": ["battery.home", "battery.store"]})
            assert hub.states.get("battery.home").attributes["setpoint_kw"] == 2.5
            assert await modbus_device.get("holding", 17, 2) == [0, 2500]
            assert modbus_device.writes == [(16, 17, [0, 2500])]

            with pytest.raises(ServiceValidationError,
                               match=r"no device provides battery.ghost \(provided: battery.home, battery.store\)"):
                await hub.services.call("battery", "auto", {"entity_id": ["battery.home", "battery.ghost"]})
            assert hub.states.get("battery.home").attributes["setpoint_kw"] == 2.5  # nothing half-done
    finally:
        async with asyncio.timeout(10):
            await hub.stop()
