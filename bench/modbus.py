"""Modbus TCP: 50-register blocks read per second across 50 simulated devices, through the
integration (poll tasks, decoding, state writes) and with bare pymodbus clients in the same run,
then again with one stalled device (accepts the connection, never answers).

The devices are pymodbus servers in a separate process (one per device, each on its own port),
so the client side is measured on its own core. Every device's 50 registers hold 25 int32 values
that the server process changes once a second.

    python -m bench --only modbus [--quick]
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time
from typing import Any

NAME = "modbus"
DEVICES = 50
REGISTERS = 50  # per block
TARGET_BLOCKS_PER_S = 5000


# --- the device process ----------------------------------------------------------------------


class FastDevice(asyncio.Protocol):
    """A minimal Modbus TCP responder (function codes 3 and 4) that costs the device process little,
    so the figures measure the client side. Every request gets a complete, correct reply."""

    registers = [0] * REGISTERS

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 12:
            length = int.from_bytes(self.buffer[4:6], "big")
            frame, self.buffer = self.buffer[: 6 + length], self.buffer[6 + length :]
            function, address, count = frame[7], int.from_bytes(frame[8:10], "big"), int.from_bytes(frame[10:12], "big")
            if function in (3, 4) and address + count <= REGISTERS:
                payload = bytes([function, 2 * count]) + b"".join(
                    r.to_bytes(2, "big") for r in self.registers[address : address + count]
                )
            else:
                payload = bytes([function | 0x80, 2])
            self.transport.write(frame[:4] + (len(payload) + 1).to_bytes(2, "big") + frame[6:7] + payload)


async def _serve_devices(count: int, kind: str) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    servers: list[Any] = []
    ports: list[int] = []
    for _ in range(count):
        if kind == "fast":
            listener = await asyncio.get_running_loop().create_server(FastDevice, "127.0.0.1", 0)
            servers.append(listener)
            ports.append(listener.sockets[0].getsockname()[1])
            continue
        device = SimDevice(1, simdata=[SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)])
        server = ModbusTcpServer(device, address=("127.0.0.1", 0))
        await server.serve_forever(background=True)
        servers.append(server)
        ports.append(server.transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(1024):
                pass
        finally:
            writer.close()

    stalled = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    print(json.dumps({"ports": ports, "stalled": stalled.sockets[0].getsockname()[1]}), flush=True)

    async def tick() -> None:
        value = 0
        while True:
            await asyncio.sleep(1.0)
            value += 1
            FastDevice.registers = [value & 0xFFFF] * REGISTERS
            for server in servers:
                if kind != "fast":
                    await server.async_setValues(1, 16, 0, FastDevice.registers)

    ticker = asyncio.get_running_loop().create_task(tick())
    # Run until the parent closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    ticker.cancel()
    for server in servers:
        if kind == "fast":
            server.close()
        else:
            await server.shutdown()


# --- the measurements ------------------------------------------------------------------------


async def _bare_pymodbus(ports: list[int], seconds: float) -> dict[str, Any]:
    from pymodbus.client import AsyncModbusTcpClient

    clients = [AsyncModbusTcpClient("127.0.0.1", port=p, timeout=5, retries=0) for p in ports]
    for client in clients:
        await client.connect()
    counts = [0] * len(clients)
    deadline = time.perf_counter() + seconds

    async def loop(i: int) -> None:
        client = clients[i]
        while time.perf_counter() < deadline:
            reply = await client.read_holding_registers(0, count=REGISTERS, device_id=1)
            if not reply.isError():
                counts[i] += 1

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop(i) for i in range(len(clients))))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    for client in clients:
        client.close()
    return {"blocks_per_s": round(sum(counts) / elapsed),
            "client_cpu_us_per_block": round(1e6 * cpu / max(1, sum(counts)), 1)}


async def _integration(ports: list[int], stalled: int | None, seconds: float) -> dict[str, Any]:
    from orbiteos.core import Hub
    from orbiteos.integrations import modbus

    sensors: list[dict[str, Any]] = [
        {"name": f"d{{i}} v{j}", "address": 2 * j, "data_type": "int32", "scan_interval": 0}
        for j in range(REGISTERS // 2)
    ]
    block = [
        {"name": f"dev{i}", "host": "127.0.0.1", "port": port, "timeout": 5,
         "sensors": [{**s, "name": s["name"].format(i=i)} for s in sensors]}
        for i, port in enumerate(ports)
    ]
    if stalled is not None:
        block.append({"name": "stalled", "host": "127.0.0.1", "port": stalled, "timeout": 60,
                      "sensors": [{"name": "stalled value", "address": 0, "scan_interval": 0}]})
    hub = Hub()
    await modbus.async_setup(hub, modbus.CONFIG_SCHEMA(block))
    await hub.start()
    pollers = [hub.data["modbus"].pollers[(f"dev{i}", 1)] for i in range(len(ports))]
    try:
        # Warm up: every device connected and read once.
        async with asyncio.timeout(30):
            while any(p.stats.blocks_read == 0 for p in pollers):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        start = [p.stats.blocks_read for p in pollers]
        writes = [0]
        unsubscribe = hub.bus.listen("state_changed", lambda event: writes.__setitem__(0, writes[0] + 1))
        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        unsubscribe()
        per_device = [(p.stats.blocks_read - s) / elapsed for p, s in zip(pollers, start, strict=True)]
        figures: dict[str, Any] = {
            "blocks_per_s": round(sum(per_device)),
            "client_cpu_us_per_block": round(1e6 * cpu / max(1.0, sum(per_device) * elapsed), 1),
            "slowest_device_blocks_per_s": round(min(per_device), 1),
            "fastest_device_blocks_per_s": round(max(per_device), 1),
            "state_writes_per_s": round(writes[0] / elapsed),
        }
        if stalled is not None:
            stalled_poller = hub.data["modbus"].pollers[("stalled", 1)]
            figures["stalled_device_blocks_read"] = stalled_poller.stats.blocks_read
            figures["stalled_device_state"] = hub.states.get("sensor.stalled_value").state  # type: ignore[union-attr]
        return figures
    finally:
        await hub.stop()


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and best of the rounds (the machine is shared: single runs vary a lot), and every run."""
    rates = sorted(r["blocks_per_s"] for r in runs)
    cpu = sorted(r["client_cpu_us_per_block"] for r in runs)
    summary: dict[str, Any] = {"blocks_per_s_median": statistics.median(rates), "blocks_per_s_best": rates[-1],
                               "client_cpu_us_per_block_median": statistics.median(cpu), "runs": runs}
    return summary


async def _measure(kind: str, seconds: float, rounds: int) -> dict[str, Any]:
    """Bare pymodbus, the integration, and the integration with a stalled device, against one device
    process; interleaved round by round so that all three see the same load."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.modbus", "--serve", str(DEVICES), kind,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    bare: list[dict[str, Any]] = []
    healthy: list[dict[str, Any]] = []
    with_stalled: list[dict[str, Any]] = []
    try:
        assert process.stdout is not None
        endpoints = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
        ports, stalled = endpoints["ports"], endpoints["stalled"]
        for _ in range(rounds):
            bare.append(await _bare_pymodbus(ports, seconds))
            healthy.append(await _integration(ports, None, seconds))
            with_stalled.append(await _integration(ports, stalled, seconds))
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
    figures: dict[str, Any] = {
        "bare_pymodbus": _summary(bare),
        "integration": _summary(healthy),
        "integration_with_one_stalled_device": _summary(with_stalled),
    }
    bare_rate = figures["bare_pymodbus"]["blocks_per_s_median"]
    healthy_rate = figures["integration"]["blocks_per_s_median"]
    figures["integration_vs_bare_median"] = round(healthy_rate / bare_rate, 3) if bare_rate else None
    figures["stalled_vs_healthy_median"] = (
        round(figures["integration_with_one_stalled_device"]["blocks_per_s_median"] / healthy_rate, 3)
        if healthy_rate else None
    )
    return figures


async def run(quick: bool) -> dict[str, Any]:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    seconds, rounds = (2.0, 1) if quick else (3.0, 3)
    figures = {
        # Devices served by a minimal Modbus responder: the client side is the limit.
        "minimal_device_servers": await _measure("fast", seconds, rounds),
        # Devices served by pymodbus' own server (50 in one process): the device side is the limit.
        "pymodbus_device_servers": await _measure("pymodbus", seconds, rounds),
    }
    integration = figures["minimal_device_servers"]["integration"]
    return {
        "parameters": {"devices": DEVICES, "registers_per_block": REGISTERS, "values_per_device": REGISTERS // 2,
                       "seconds_per_run": seconds, "rounds": rounds, "device_process": "separate",
                       "target_blocks_per_s": TARGET_BLOCKS_PER_S},
        "figures": {**figures, "target_met_median": integration["blocks_per_s_median"] >= TARGET_BLOCKS_PER_S,
                    "target_met_best": integration["blocks_per_s_best"] >= TARGET_BLOCKS_PER_S},
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        asyncio.run(_serve_devices(int(sys.argv[2]), sys.argv[3]))
    else:
        print(json.dumps(asyncio.run(run("--quick" in sys.argv))))
