"""Writing through the integration: modbus.write_register / write_coil, switches, and the split of a
domain service between Modbus entities and another integration's."""

from __future__ import annotations

from typing import Any

import pytest

from orbiteos.core import Hub, ServiceCall
from orbiteos.errors import DeviceUnavailable, ServiceValidationError
from tests.integrations.modbus.conftest import SetupModbus, wait_state
from tests.servers.modbus import ModbusTestDevice


def plant(device: ModbusTestDevice, **extra: Any) -> dict[str, Any]:
    return {"name": "plant", "host": device.host, "port": device.port, "timeout": 1, "retry_max": 0.2, **extra}


async def test_write_register_reaches_the_device_and_the_sensor_follows_at_once(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    hub = await setup_modbus([plant(modbus_device, sensors=[{"name": "setpoint", "address": 10,
                                                             "scan_interval": 3600}])])
    await wait_state(hub, "sensor.setpoint", "0")
    await hub.services.call("modbus", "write_register", {"hub": "plant", "address": 10, "value": 1234})
    assert modbus_device.writes[-1] == (6, 10, [1234])
    await wait_state(hub, "sensor.setpoint", "1234")  # polled again after the write, not in an hour
    await hub.services.call("modbus", "write_register", {"hub": "plant", "address": 20, "value": [1, 2, 3]})
    assert modbus_device.writes[-1] == (16, 20, [1, 2, 3])


async def test_writes_to_a_unit_without_entities_use_a_one_shot_connection(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    hub = await setup_modbus([plant(modbus_device, sensors=[{"name": "x", "address": 0, "device_id": 7}])])
    await hub.services.call("modbus", "write_coil", {"hub": "plant", "address": 4, "state": True, "slave": 1})
    assert modbus_device.writes[-1] == (5, 4, [True])
    assert await modbus_device.get("coil", 4) == [True]


async def test_bad_write_requests_say_what_is_wrong(modbus_device: ModbusTestDevice, setup_modbus: SetupModbus) -> None:
    hub = await setup_modbus([plant(modbus_device)])
    with pytest.raises(ServiceValidationError, match="no hub named 'other'; known: plant"):
        await hub.services.call("modbus", "write_register", {"hub": "other", "address": 1, "value": 1})
    with pytest.raises(ServiceValidationError, match="expected a register value 0-65535"):
        await hub.services.call("modbus", "write_register", {"hub": "plant", "address": 1, "value": 70000})
    with pytest.raises(ServiceValidationError, match="refused the write.*exception 2"):
        await hub.services.call("modbus", "write_register", {"hub": "plant", "address": 5000, "value": 1})


async def test_a_write_while_the_device_is_down_raises_device_unavailable(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    hub = await setup_modbus([plant(modbus_device, sensors=[{"name": "x", "address": 0, "scan_interval": 0.05}])])
    await wait_state(hub, "sensor.x", "0")
    await modbus_device.stop()
    await wait_state(hub, "sensor.x", "unavailable")
    with pytest.raises(DeviceUnavailable, match="plant"):
        await hub.services.call("modbus", "write_register", {"hub": "plant", "address": 0, "value": 1})


async def test_switches_write_commands_and_verify_reads_back(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    switches = [
        {"name": "Pump", "address": 30, "command_on": 5, "command_off": 2, "verify": {}, "scan_interval": 3600},
        {"name": "Relay", "address": 2, "write_type": "coil", "scan_interval": 3600},
    ]
    hub = await setup_modbus([plant(modbus_device, switches=switches)])
    await modbus_device.set("holding", 30, [2])
    await wait_state(hub, "switch.relay", "off")
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.pump"})
    assert await modbus_device.get("holding", 30) == [5]
    await wait_state(hub, "switch.pump", "on")
    await hub.services.call("switch", "toggle", {"entity_id": ["switch.pump", "switch.relay"]})
    await wait_state(hub, "switch.pump", "off")
    assert (await wait_state(hub, "switch.relay", "on")).state == "on"
    assert await modbus_device.get("coil", 2) == [True]
    # A register holding neither state_on nor state_off makes the switch unavailable, not wrong.
    await modbus_device.set("holding", 30, [9])
    hub.data["modbus"].pollers[("plant", 1)].request_refresh()
    await wait_state(hub, "switch.pump", "unavailable")


async def test_a_domain_service_is_shared_with_the_integration_that_registered_it_first(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    hub = Hub()
    other_calls: list[list[str]] = []

    def other_set_power(call: ServiceCall) -> None:  # stand-in for another integration's batteries
        other_calls.append(call.entity_ids)

    hub.services.register_for_entities("battery", "set_power", other_set_power, lambda e: e == "battery.sim")
    battery = {"name": "store", "scan_interval": 0.05,
               "registers": {"power": {"address": 0, "data_type": "int32", "scale": 0.001}},
               "controls": {"set_power": {"address": 17, "data_type": "int32", "scale": 0.001}}}
    await setup_modbus([plant(modbus_device, battery=[battery])], hub=hub)
    await wait_state(hub, "battery.store", "0.0")
    await hub.services.call("battery", "set_power", {"entity_id": ["battery.store", "battery.sim"], "power_kw": 2})
    assert other_calls == [["battery.sim"]]
    assert await modbus_device.get("holding", 17, 2) == [0, 2000]


async def test_an_optimistic_switch_notices_a_closed_connection_and_reconnects(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    # The switch reads nothing, so only the connection tells whether the device is there.
    hub = await setup_modbus([plant(modbus_device, switches=[{"name": "Relay", "address": 2, "write_type": "coil",
                                                              "scan_interval": 0.05}])])
    await wait_state(hub, "switch.relay", "off")
    await modbus_device.stop()
    await wait_state(hub, "switch.relay", "unavailable")
    await modbus_device.start()
    await wait_state(hub, "switch.relay", "off")
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.relay"})
    assert await modbus_device.get("coil", 2) == [True]
