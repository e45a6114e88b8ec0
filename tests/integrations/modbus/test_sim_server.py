"""The simulated devices over real Modbus: SunSpec PV inverter and OrbitEOS battery servers, read and
controlled through the integration on another hub.

The device side here is a STAND-IN for the simulator: the test writes the pv/battery states and
registers stand-in pv/battery services that record calls and update the states as the simulator would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from orbiteos.core import Hub, ServiceCall
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations.modbus.sim_server import DeviceServer, battery_image, battery_write, pv_image, pv_write
from tests.integrations.modbus.conftest import SetupModbus, poller, wait_state

PV_ATTRS = {"energy_kwh": 1234.5, "peak_power_kw": 10.0, "inverter_kw": 8.0, "limit_kw": 8.0, "dc_voltage": 612.3,
            "temperature_c": 35.2, "unit_of_measurement": "kW"}
BATTERY_ATTRS = {"soc": 55.5, "soh": 99.0, "capacity_kwh": 20.0, "max_charge_kw": 10.0, "max_discharge_kw": 10.0,
                 "setpoint_kw": None, "cycles": 12.34, "temperature_c": 25.0, "unit_of_measurement": "kW"}


class StandInSite:
    """Stand-in for the simulator: pv.roof and battery.store states and their services."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        hub.states.set("pv.roof", "3.2", PV_ATTRS)
        hub.states.set("battery.store", "-2.5", BATTERY_ATTRS)
        for domain, service in (("pv", "set_limit"), ("battery", "set_power"), ("battery", "auto")):
            hub.services.register(domain, service, self.handle)

    def handle(self, call: ServiceCall) -> None:
        data = {k: v for k, v in call.data.items() if k != "entity_id"}
        self.calls.append((call.domain, call.service, data))
        if call.service == "set_limit":
            limit = 8.0 * data["percent"] / 100.0 if "percent" in data else data["power_kw"]
            self.hub.states.set("pv.roof", "3.2", {**PV_ATTRS, "limit_kw": limit})
        elif call.service == "set_power":
            if abs(data["power_kw"]) > 10.0:
                raise ServiceValidationError(f"power_kw {data['power_kw']} beyond 10 kW")
            self.hub.states.set("battery.store", str(data["power_kw"]), {**BATTERY_ATTRS,
                                                                          "setpoint_kw": data["power_kw"]})
        else:
            self.hub.states.set("battery.store", "0.0", BATTERY_ATTRS)


@pytest.fixture
async def served() -> AsyncIterator[tuple[StandInSite, DeviceServer, DeviceServer]]:
    device_hub = Hub()
    site = StandInSite(device_hub)
    pv = DeviceServer(device_hub, "pv.roof", pv_image, pv_write)
    battery = DeviceServer(device_hub, "battery.store", battery_image, battery_write)
    await pv.start()
    await battery.start()
    try:
        yield site, pv, battery
    finally:
        await pv.stop()
        await battery.stop()
        await device_hub.stop()


def client_config(pv: DeviceServer, battery: DeviceServer) -> list[dict[str, Any]]:
    return [
        {"name": "inverter", "host": "127.0.0.1", "port": pv.port,
         "pv": [{"name": "Roof", "profile": "sunspec", "scan_interval": 0.05}]},
        {"name": "storage", "host": "127.0.0.1", "port": battery.port,
         "battery": [{"name": "Store", "profile": "orbiteos_battery", "scan_interval": 0.05}]},
    ]


async def test_sunspec_pv_and_battery_registers_carry_the_states(
    served: tuple[StandInSite, DeviceServer, DeviceServer], setup_modbus: SetupModbus
) -> None:
    site, pv, battery = served
    hub = await setup_modbus(client_config(pv, battery))
    roof = await wait_state(hub, "pv.roof", "3.2")
    assert roof.attributes["energy_kwh"] == 1234.5
    assert roof.attributes["inverter_kw"] == 8.0
    assert roof.attributes["limit_kw"] == 8.0
    assert roof.attributes["dc_voltage"] == 612.3
    assert roof.attributes["temperature_c"] == 35.2
    # The whole SunSpec profile (40084..40173) is one request per poll, the battery map another.
    assert [b.count for g in poller(hub, "inverter").groups for b in g.blocks] == [90]
    assert [b.count for g in poller(hub, "storage").groups for b in g.blocks] == [19]
    store = await wait_state(hub, "battery.store", "-2.5")
    assert store.attributes["soc"] == 55.5
    assert store.attributes["capacity_kwh"] == 20.0
    assert store.attributes["cycles"] == 12.34
    assert store.attributes["setpoint_kw"] is None
    # The simulated state moves: the registers follow.
    site.hub.states.set("pv.roof", "4.75", PV_ATTRS)
    await wait_state(hub, "pv.roof", "4.75")


async def test_sunspec_header_and_models_are_where_a_scanner_looks(
    served: tuple[StandInSite, DeviceServer, DeviceServer],
) -> None:
    from orbiteos.integrations.modbus.client import ModbusClient
    from orbiteos.integrations.modbus.registers import unpack

    _site, pv, _battery = served
    async with ModbusClient("127.0.0.1", pv.port) as client:
        header = await client.read_registers("holding", 40000, 4)
        assert header == [0x5375, 0x6E53, 1, 66]
        manufacturer = await client.read_registers("holding", 40004, 16)
        assert unpack(manufacturer, "string") == "OrbitEOS"
        assert await client.read_registers("holding", 40070, 2) == [103, 50]
        assert await client.read_registers("holding", 40122, 2) == [120, 26]
        assert await client.read_registers("holding", 40150, 2) == [123, 24]
        assert await client.read_registers("holding", 40176, 2) == [0xFFFF, 0]


async def test_pv_set_limit_through_modbus_reaches_the_device(
    served: tuple[StandInSite, DeviceServer, DeviceServer], setup_modbus: SetupModbus
) -> None:
    site, pv, battery = served
    hub = await setup_modbus(client_config(pv, battery))
    await wait_state(hub, "pv.roof", "3.2")
    await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "percent": 50})
    assert ("pv", "set_limit", {"percent": 50.0}) in site.calls
    await wait_state(hub, "pv.roof", lambda s: s.attributes.get("limit_kw") == 4.0)
    await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "power_kw": 2.0})
    assert site.calls[-1] == ("pv", "set_limit", {"percent": 25.0})
    await wait_state(hub, "pv.roof", lambda s: s.attributes.get("limit_kw") == 2.0)


async def test_battery_set_power_and_auto_through_modbus(
    served: tuple[StandInSite, DeviceServer, DeviceServer], setup_modbus: SetupModbus
) -> None:
    site, pv, battery = served
    hub = await setup_modbus(client_config(pv, battery))
    await wait_state(hub, "battery.store", "-2.5")
    await hub.services.call("battery", "set_power", {"entity_id": "battery.store", "power_kw": -3.5})
    assert site.calls[-1] == ("battery", "set_power", {"power_kw": -3.5})
    store = await wait_state(hub, "battery.store", "-3.5")
    assert store.attributes["setpoint_kw"] == -3.5
    assert store.attributes["mode"] == "manual"
    assert store.attributes["unit_of_measurement"] == "kW"
    await hub.services.call("battery", "auto", {"entity_id": "battery.store"})
    assert site.calls[-1] == ("battery", "auto", {})
    store = await wait_state(hub, "battery.store", "0.0")
    assert store.attributes["setpoint_kw"] is None
    assert store.attributes["mode"] == "auto"


async def test_a_setpoint_the_device_refuses_comes_back_as_a_validation_error(
    served: tuple[StandInSite, DeviceServer, DeviceServer], setup_modbus: SetupModbus
) -> None:
    site, pv, battery = served
    # The client does not know the limits (no max_* registers mapped), so the device decides.
    hub = await setup_modbus([
        {"name": "storage", "host": "127.0.0.1", "port": battery.port,
         "battery": [{"name": "Bare", "scan_interval": 0.05,
                      "registers": {"power": {"address": 0, "data_type": "int32", "scale": 0.001}},
                      "controls": {"set_power": {"address": 17, "data_type": "int32", "scale": 0.001},
                                   "mode": {"address": 16}}}]},
    ])
    await wait_state(hub, "battery.bare", "-2.5")
    with pytest.raises(ServiceValidationError, match=r"refused the write.*exception 3"):
        await hub.services.call("battery", "set_power", {"entity_id": "battery.bare", "power_kw": 50})
    assert ("battery", "set_power", {"power_kw": 50.0}) in site.calls


async def test_writes_outside_the_control_registers_are_illegal_addresses(
    served: tuple[StandInSite, DeviceServer, DeviceServer],
) -> None:
    from orbiteos.integrations.modbus.client import ModbusClient, ModbusExceptionResponse

    site, pv, battery = served
    async with ModbusClient("127.0.0.1", battery.port) as client:
        with pytest.raises(ModbusExceptionResponse, match="exception 2"):
            await client.write_registers(2, [500])  # soc is read-only
    async with ModbusClient("127.0.0.1", pv.port) as client:
        with pytest.raises(ModbusExceptionResponse, match="exception 2"):
            await client.write_registers(40084, [1])  # W is read-only
    assert site.calls == []


async def test_an_unavailable_simulated_device_answers_device_failure(
    served: tuple[StandInSite, DeviceServer, DeviceServer], setup_modbus: SetupModbus
) -> None:
    from orbiteos.integrations.modbus.client import ModbusClient, ModbusExceptionResponse

    site, pv, battery = served
    hub = await setup_modbus(client_config(pv, battery))
    await wait_state(hub, "battery.store", "-2.5")
    site.hub.states.set("battery.store", "unavailable", {})
    await wait_state(hub, "battery.store", "unavailable")
    async with ModbusClient("127.0.0.1", battery.port) as client:
        with pytest.raises(ModbusExceptionResponse, match="exception 4"):
            await client.read_registers("holding", 0, 20)
    site.hub.states.set("battery.store", "1.5", BATTERY_ATTRS)
    await wait_state(hub, "battery.store", "1.5")
