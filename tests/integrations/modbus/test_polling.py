"""Reading through the integration from a real pymodbus server: values, coalescing, outages, bad replies."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from orbiteos.core import STATE_UNAVAILABLE
from orbiteos.integrations.modbus.registers import pack
from tests.integrations.modbus.conftest import SetupModbus, poller, until, wait_state
from tests.servers.modbus import ModbusTestDevice


def hub_config(device: ModbusTestDevice, **extra: Any) -> dict[str, Any]:
    return {"name": "plant", "host": device.host, "port": device.port, "timeout": 1, "retry_max": 0.2, **extra}


async def test_sensors_decode_types_swaps_and_scale(modbus_device: ModbusTestDevice, setup_modbus: SetupModbus) -> None:
    await modbus_device.set("holding", 0, pack(-1234, "int16"))
    await modbus_device.set("holding", 1, pack(70000, "uint32", "word"))
    await modbus_device.set("input", 10, pack(21.5, "float32"))
    await modbus_device.set("holding", 20, pack(2305, "uint16"))
    await modbus_device.set("holding", 30, pack("PV-7", "string", count=4))
    sensors = [
        {"name": "Signed", "address": 0, "data_type": "int16", "scan_interval": 0.05},
        {"name": "Energy", "address": 1, "data_type": "uint32", "swap": "word", "scan_interval": 0.05},
        {"name": "Temp", "address": 10, "input_type": "input", "data_type": "float32", "scan_interval": 0.05,
         "unit_of_measurement": "°C"},
        {"name": "Voltage", "address": 20, "data_type": "uint16", "scale": 0.1, "precision": 1, "offset": 0.5,
         "scan_interval": 0.05},
        {"name": "Serial", "address": 30, "data_type": "string", "count": 4, "scan_interval": 0.05},
    ]
    hub = await setup_modbus([hub_config(modbus_device, sensors=sensors)])
    assert (await wait_state(hub, "sensor.signed", "-1234")).state == "-1234"
    assert (await wait_state(hub, "sensor.energy", "70000")).state == "70000"
    temp = await wait_state(hub, "sensor.temp", "21.5")
    assert temp.attributes["unit_of_measurement"] == "°C"
    assert (await wait_state(hub, "sensor.voltage", "231.0")).state == "231.0"
    assert (await wait_state(hub, "sensor.serial", "PV-7")).state == "PV-7"


async def test_registers_of_one_interval_are_read_in_one_block(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    # Ten values spread over registers 100..139 with small holes, one input register far away.
    sensors: list[dict[str, Any]] = [
        {"name": f"v{i}", "address": 100 + 4 * i, "data_type": "int32", "scan_interval": 0.05} for i in range(10)
    ]
    sensors.append({"name": "far", "address": 900, "input_type": "input", "scan_interval": 0.05})
    hub = await setup_modbus([hub_config(modbus_device, sensors=sensors)])
    device_poller = poller(hub, "plant")
    await until(lambda: device_poller.stats.polls >= 5)
    reads = modbus_device.reads()
    assert set(reads) == {(3, 100, 38), (4, 900, 1)}
    # Two requests per poll, whatever the number of values.
    assert len(reads) <= 2 * device_poller.stats.polls + 2


async def test_a_gap_larger_than_max_gap_splits_the_block(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    sensors = [
        {"name": "a", "address": 0, "scan_interval": 0.05},
        {"name": "b", "address": 5, "scan_interval": 0.05},
        {"name": "c", "address": 40, "scan_interval": 0.05},
    ]
    hub = await setup_modbus([hub_config(modbus_device, sensors=sensors, max_gap=10)])
    await until(lambda: poller(hub, "plant").stats.polls >= 2)
    assert set(modbus_device.reads()) == {(3, 0, 6), (3, 40, 1)}


async def test_each_scan_interval_polls_on_its_own(modbus_device: ModbusTestDevice, setup_modbus: SetupModbus) -> None:
    sensors = [
        {"name": "fast", "address": 0, "scan_interval": 0.02},
        {"name": "slow", "address": 1, "scan_interval": 3600},
    ]
    hub = await setup_modbus([hub_config(modbus_device, sensors=sensors)])
    await until(lambda: len(modbus_device.reads()) >= 10)
    counts = {address: sum(1 for r in modbus_device.reads() if r[1] == address) for address in (0, 1)}
    assert counts[1] == 1 and counts[0] >= 9
    await wait_state(hub, "sensor.slow", "0")


async def test_binary_sensors_read_coils_discrete_inputs_and_registers(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    await modbus_device.set("coil", 3, [True])
    await modbus_device.set("discrete_input", 7, [False])
    await modbus_device.set("holding", 50, [4])
    binary_sensors = [
        {"name": "Contactor", "address": 3, "scan_interval": 0.05},
        {"name": "Door", "address": 7, "input_type": "discrete_input", "scan_interval": 0.05},
        {"name": "Alarm", "address": 50, "input_type": "holding", "scan_interval": 0.05},
    ]
    hub = await setup_modbus([hub_config(modbus_device, binary_sensors=binary_sensors)])
    await wait_state(hub, "binary_sensor.contactor", "on")
    await wait_state(hub, "binary_sensor.door", "off")
    await wait_state(hub, "binary_sensor.alarm", "on")
    await modbus_device.set("coil", 3, [False])
    await wait_state(hub, "binary_sensor.contactor", "off")


async def test_entities_are_unavailable_during_an_outage_and_recover_after_restart(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    await modbus_device.set("holding", 0, [42])
    sensors = [{"name": "Power", "address": 0, "scan_interval": 0.05}]
    binary_sensors = [{"name": "Flag", "address": 0, "scan_interval": 0.05}]
    hub = await setup_modbus([hub_config(modbus_device, sensors=sensors, binary_sensors=binary_sensors)])
    await wait_state(hub, "sensor.power", "42")

    await modbus_device.stop()
    await wait_state(hub, "sensor.power", STATE_UNAVAILABLE)
    await wait_state(hub, "binary_sensor.flag", STATE_UNAVAILABLE)
    failures = poller(hub, "plant").stats.connection_failures
    await until(lambda: poller(hub, "plant").stats.connection_failures >= failures + 2)  # keeps retrying

    await modbus_device.start()  # same port
    await modbus_device.set("holding", 0, [43])
    await wait_state(hub, "sensor.power", "43")
    await wait_state(hub, "binary_sensor.flag", "off")


async def test_exception_response_makes_only_its_block_unavailable(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus, caplog: Any
) -> None:
    await modbus_device.set("holding", 0, [7])
    sensors = [
        {"name": "Good", "address": 0, "scan_interval": 0.05},
        {"name": "Beyond", "address": 5000, "scan_interval": 0.05},  # the device has 1000 registers
    ]
    with caplog.at_level(logging.WARNING):
        hub = await setup_modbus([hub_config(modbus_device, sensors=sensors)])
        await wait_state(hub, "sensor.good", "7")
        await wait_state(hub, "sensor.beyond", STATE_UNAVAILABLE)
        await until(lambda: poller(hub, "plant").stats.exception_responses >= 3)
    assert "exception 2 (illegal data address)" in caplog.text
    # Logged once, not once per poll.
    assert caplog.text.count("sensor.beyond: unavailable") == 1
    await modbus_device.set("holding", 0, [8])
    await wait_state(hub, "sensor.good", "8")


async def test_a_refused_block_with_gaps_is_read_again_without_them(setup_modbus: SetupModbus) -> None:
    # A device whose registers 0..9 and 20..29 exist but 10..19 do not.
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    simdata = [SimData(0, count=10, values=5, datatype=DataType.REGISTERS),
               SimData(20, count=10, values=6, datatype=DataType.REGISTERS)]
    server = ModbusTcpServer(SimDevice(1, simdata=simdata), address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    port = server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        sensors = [{"name": "low", "address": 0, "scan_interval": 0.05},
                   {"name": "high", "address": 20, "scan_interval": 0.05}]
        hub = await setup_modbus([{"name": "holes", "host": "127.0.0.1", "port": port, "sensors": sensors}])
        await wait_state(hub, "sensor.low", "5")
        await wait_state(hub, "sensor.high", "6")
        assert len(poller(hub, "holes").groups[0].blocks) == 2
    finally:
        await server.shutdown()


class MisbehavingDevice:
    """A TCP peer that answers Modbus requests wrongly: `short` (too few registers) or `garbage` bytes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(7)
                length = int.from_bytes(header[4:6], "big")
                await reader.readexactly(length - 1)
                self.requests += 1
                if self.mode == "short":
                    # A read-holding reply with one register, whatever was asked.
                    pdu = bytes([3, 2, 0, 9])
                    writer.write(header[:4] + (len(pdu) + 1).to_bytes(2, "big") + header[6:7] + pdu)
                elif self.mode == "silent":
                    continue
                else:
                    writer.write(b"\xde\xad\xbe\xef" * 4)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_short_and_garbled_replies_are_logged_and_never_crash(setup_modbus: SetupModbus, caplog: Any) -> None:
    short, garbage = MisbehavingDevice("short"), MisbehavingDevice("garbage")
    await short.start()
    await garbage.start()
    try:
        sensors = [{"name": "pair", "address": 0, "data_type": "uint32", "scan_interval": 0.05}]
        with caplog.at_level(logging.WARNING):
            hub = await setup_modbus([
                {"name": "short", "host": "127.0.0.1", "port": short.port, "timeout": 0.3, "retry_max": 0.1,
                 "sensors": sensors},
                {"name": "garbage", "host": "127.0.0.1", "port": garbage.port, "timeout": 0.3, "retry_max": 0.1,
                 "sensors": [{**sensors[0], "name": "noise"}]},
            ])
            await until(lambda: short.requests >= 2 and garbage.requests >= 2)
        assert hub.states.get("sensor.pair").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
        assert hub.states.get("sensor.noise").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
        assert "asked 2 registers, got 1" in caplog.text
        assert poller(hub, "short").stats.bad_replies >= 1
        for name in ("short", "garbage"):
            assert not any(t.done() for t in hub._tasks if t.get_name() == f"modbus:{name}:1")
    finally:
        await short.stop()
        await garbage.stop()


async def test_a_dead_device_does_not_delay_the_others(
    modbus_device: ModbusTestDevice, setup_modbus: SetupModbus
) -> None:
    silent = MisbehavingDevice("silent")  # accepts the connection, never answers
    await silent.start()
    try:
        sensors = [{"name": "live", "address": 0, "scan_interval": 0.01}]
        hub = await setup_modbus([
            {"name": "dead", "host": "127.0.0.1", "port": silent.port, "timeout": 30,
             "sensors": [{"name": "stalled", "address": 0, "scan_interval": 0.01}]},
            hub_config(modbus_device, sensors=sensors),
        ])
        await until(lambda: silent.requests >= 1)
        live = poller(hub, "plant")
        start = live.stats.polls
        # The dead device's first request waits 30 s for a reply; meanwhile the live one goes on.
        await until(lambda: live.stats.polls >= start + 20)
        assert silent.requests == 1
        assert hub.states.get("sensor.stalled").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    finally:
        await silent.stop()

