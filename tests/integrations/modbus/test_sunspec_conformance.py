"""The simulated devices of `orbiteos sim-devices` as a third-party SunSpec client sees them
(pysunspec2 1.3.7, a client nobody here wrote), and as a plain Modbus client probes them: functions,
counts and unit ids answered as the Modbus standard says. The device side is the real simulator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import modbus, sim
from orbiteos.integrations.modbus.profiles import orbiteos_battery as bat
from orbiteos.integrations.modbus.profiles import sunspec as ss
from orbiteos.integrations.modbus.sim_server import DEVICES, DeviceServer
from orbiteos.natures import nature_layer
from tests.integrations.modbus.conftest import SetupModbus, wait_state
from tests.servers.modbus import ModbusTestDevice

SITE: dict[str, Any] = {
    "step": 0.1,
    "pv": [{"name": "roof", "peak_power_kw": 10, "inverter_kw": 10}],
    "battery": [{"name": "main", "capacity_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50}],
}


class Served:
    def __init__(self, hub: Hub, servers: dict[str, DeviceServer]) -> None:
        self.hub = hub
        self.servers = servers

    def port(self, domain: str) -> int:
        return self.servers[domain].port


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    # Noon at longitude 0 on a June day would be the simplest; any time works: the points are there either way.
    hub = Hub(config=SiteConfig(latitude=0.0, longitude=0.0))
    nature_layer(hub).controller = False
    await sim.async_setup(hub, SITE)
    await hub.start()
    servers = {}
    for domain, entity_id in (("pv", "pv.roof"), ("battery", "battery.main"), ("meter", "meter.grid")):
        image_of, on_write, keeps = DEVICES[domain]
        servers[domain] = DeviceServer(hub, entity_id, image_of, on_write, keeps=keeps)
        await servers[domain].start()
    try:
        yield Served(hub, servers)
    finally:
        for server in servers.values():
            await server.stop()
        await hub.stop()


def _scan(port: int) -> SunSpecModbusClientDeviceTCP:
    device = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
    device.scan()
    return device


async def test_pysunspec2_finds_the_inverters_models_and_reads_real_values(served: Served) -> None:
    device = await asyncio.to_thread(_scan, served.port("pv"))
    try:
        assert sorted(m for m in device.models if isinstance(m, int)) == [1, 103, 120, 123]
        inverter = device.models[103][0]
        await asyncio.to_thread(inverter.read)
        assert inverter.Hz.cvalue == pytest.approx(50.0, abs=0.5)  # the simulated grid's frequency
        assert inverter.PhVphA.cvalue == pytest.approx(230.0, abs=15)
        assert inverter.PF.cvalue == 100
        assert inverter.WH.cvalue >= 1  # 0 would mean "not implemented"
        assert inverter.St.cvalue in (2, 4, 5)
        # What the simulator does not model reads as not implemented (None), never a made-up 0.
        assert inverter.TmpSnk.cvalue is None and inverter.StVnd.cvalue is None
        nameplate = device.models[120][0]
        await asyncio.to_thread(nameplate.read)
        assert nameplate.WRtg.cvalue == 10000 and nameplate.DERTyp.cvalue == 4
        assert nameplate.VARtg.cvalue is None
    finally:
        device.close()


def _write_limit_in_two_requests(port: int) -> tuple[Any, Any, Any]:
    device = _scan(port)
    try:
        controls = device.models[123][0]
        controls.read()
        controls.WMaxLimPct.cvalue = 30
        controls.WMaxLimPct_RvrtTms.cvalue = 120
        controls.write()  # WMaxLimPct and the revert time first, as many EMSs do ...
        controls.WMaxLim_Ena.cvalue = 1
        controls.write()  # ... the enable later, in its own request
        controls.read()
        return controls.WMaxLimPct.cvalue, controls.WMaxLimPct_RvrtTms.cvalue, controls.WMaxLim_Ena.cvalue
    finally:
        device.close()


async def test_a_limit_written_before_its_enable_is_kept_and_applied(served: Served) -> None:
    percent, revert, enabled = await asyncio.to_thread(_write_limit_in_two_requests, served.port("pv"))
    assert (percent, revert, enabled) == (30, 120, 1)
    state = await wait_state(served.hub, "pv.roof", lambda s: s.attributes.get("limit_kw") == 3.0)
    assert state.attributes["limit_kw"] == 3.0
    await asyncio.sleep(0.3)  # simulation steps rebuild the register image; the written points stay
    device = await asyncio.to_thread(_scan, served.port("pv"))
    try:
        controls = device.models[123][0]
        await asyncio.to_thread(controls.read)
        assert (controls.WMaxLimPct.cvalue, controls.WMaxLimPct_RvrtTms.cvalue) == (30, 120)
    finally:
        device.close()


async def test_pysunspec2_reads_the_simulated_grid_meter(served: Served) -> None:
    device = await asyncio.to_thread(_scan, served.port("meter"))
    try:
        assert sorted(m for m in device.models if isinstance(m, int)) == [1, 203]
        meter = device.models[203][0]
        await asyncio.to_thread(meter.read)
        grid = served.hub.states.get("meter.grid")
        assert grid is not None
        assert meter.Hz.cvalue == pytest.approx(grid.attributes["frequency_hz"], abs=0.05)
        assert meter.PhVphA.cvalue == pytest.approx(grid.attributes["voltage_l1"], abs=0.5)
        assert meter.W.cvalue == pytest.approx(float(grid.state) * 1000, abs=2000)  # a step may pass between
        assert meter.TotWhImp.cvalue >= 1 and meter.VAR.cvalue is None
    finally:
        device.close()


async def test_the_modbus_meter_nature_reads_the_sunspec_meter(served: Served, setup_modbus: SetupModbus) -> None:
    hub = await setup_modbus(modbus.CONFIG_SCHEMA([
        {"name": "meter", "host": "127.0.0.1", "port": served.port("meter"), "timeout": 1,
         "meter": [{"name": "grid", "profile": "sunspec_meter", "scan_interval": 0.1}]},
    ]))
    simulated = served.hub.states.get("meter.grid")
    assert simulated is not None
    state = await wait_state(hub, "meter.grid", lambda s: s.state not in ("unavailable", "unknown")
                             and "frequency_hz" in s.attributes)
    assert set(state.attributes) >= {"import_kwh", "export_kwh", "frequency_hz", "voltage_l1", "current_l3",
                                     "power_l2"}
    assert state.attributes["frequency_hz"] == pytest.approx(simulated.attributes["frequency_hz"], abs=0.05)
    assert abs(float(state.state) - float(simulated.state)) < 5.0  # kW, + import


async def test_the_sdm630_profile_reads_an_eastron_meter(modbus_device: ModbusTestDevice,
                                                         setup_modbus: SetupModbus) -> None:
    from orbiteos.integrations.modbus.registers import pack

    values = {0x0000: 231.5, 0x0002: 229.0, 0x0004: 230.2, 0x0006: 10.0, 0x0008: 11.0, 0x000A: 12.0,
              0x000C: 2300.0, 0x000E: 2500.0, 0x0010: 2700.0, 0x0034: 7500.0, 0x0046: 49.98, 0x0048: 1234.5,
              0x004A: 98.25}
    for address, value in values.items():
        await modbus_device.set("input", address, pack(value, "float32"))
    hub = await setup_modbus(modbus.CONFIG_SCHEMA([
        {"name": "p1", "host": modbus_device.host, "port": modbus_device.port, "timeout": 1,
         "meter": [{"name": "grid", "profile": "sdm630", "scan_interval": 0.1}]},
    ]))
    state = await wait_state(hub, "meter.grid", lambda s: s.state == "7.5")
    assert state.attributes["frequency_hz"] == pytest.approx(49.98, abs=1e-3)
    assert state.attributes["import_kwh"] == 1234.5 and state.attributes["export_kwh"] == 98.25
    assert state.attributes["power_l3"] == 2.7 and state.attributes["voltage_l1"] == pytest.approx(231.5, abs=1e-3)


async def _raw(port: int, unit: int, call: str, *args: Any, **kwargs: Any) -> Any:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
    await client.connect()
    try:
        return await getattr(client, call)(*args, device_id=unit, **kwargs)
    finally:
        client.close()


async def test_only_holding_register_functions_are_served(served: Served) -> None:
    for call in ("read_input_registers", "read_coils", "read_discrete_inputs"):
        reply = await _raw(served.port("pv"), 1, call, ss.W, count=1)
        assert reply.isError() and reply.exception_code == 1, call  # illegal function


@pytest.mark.parametrize("count", [0, 126])
async def test_a_read_of_0_or_more_than_125_registers_is_exception_3(served: Served, count: int) -> None:
    import struct

    # pymodbus's client refuses such counts itself: the request goes out as raw bytes.
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port("pv"))
    try:
        writer.write(struct.pack(">HHHBBHH", 7, 0, 6, 1, 3, ss.W, count))
        await writer.drain()
        header = await asyncio.wait_for(reader.readexactly(9), 5)
    finally:
        writer.close()
    transaction, _, _, unit, function, exception = struct.unpack(">HHHBBB", header)
    assert (transaction, unit, function, exception) == (7, 1, 0x83, 3)


async def test_another_unit_id_is_exception_11_without_a_traceback(served: Served,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        reply = await _raw(served.port("pv"), 7, "read_holding_registers", ss.W, count=1)
    assert reply.isError() and reply.exception_code == 11
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_battery_setpoint_beyond_its_limits_is_exception_3(served: Served) -> None:
    from orbiteos.integrations.modbus.registers import pack

    reply = await _raw(served.port("battery"), 1, "write_registers", bat.SETPOINT_W, pack(-60_000, "int32"))
    assert reply.isError() and reply.exception_code == 3
    battery = served.hub.states.get("battery.main")
    assert battery is not None and battery.attributes["setpoint_kw"] is None


async def test_a_not_implemented_control_point_is_not_writable(served: Served) -> None:
    out_pf_set = ss.IMMEDIATE + 8  # OutPFSet: this inverter has no power factor control
    reply = await _raw(served.port("pv"), 1, "write_register", out_pf_set, 95)
    assert reply.isError() and reply.exception_code == 2
