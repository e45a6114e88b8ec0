"""A real pymodbus TCP server in the test's own event loop, on a free loopback port.

`ModbusTestDevice` holds coils, discrete inputs, holding and input registers (each 0..size-1),
counts every request PDU it receives, and can be stopped and started again on the same port
(outage and recovery tests). The `modbus_device` fixture gives one, started, and stops it after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

# function code -> table
READ_TABLES = {1: "coil", 2: "discrete_input", 3: "holding", 4: "input"}


class ModbusTestDevice:
    def __init__(self, size: int = 1000, device_id: int = 1, host: str = "127.0.0.1") -> None:
        self.size = size
        self.device_id = device_id
        self.host = host
        self.port = 0
        self.requests: list[tuple[int, int, int]] = []  # (function code, address, count)
        self.writes: list[tuple[int, int, list[Any]]] = []
        self._server: ModbusTcpServer | None = None
        self._device = self._build()

    def _build(self) -> SimDevice:
        def bits() -> list[SimData]:
            return [SimData(0, count=self.size, values=False, datatype=DataType.BITS)]

        def regs() -> list[SimData]:
            return [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)]

        return SimDevice(self.device_id, simdata=(bits(), bits(), regs(), regs()), action=self._action)

    async def _action(self, fc: int, start: int, address: int, count: int, registers: list[int],
                      values: list[Any] | None) -> None:
        if values is not None and not getattr(self, "_setting", False):
            self.writes.append((fc, address, list(values)))

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.requests.append((pdu.function_code, pdu.address, getattr(pdu, "count", 0)))
        return pdu

    @property
    def running(self) -> bool:
        return self._server is not None

    def reads(self, table: str | None = None) -> list[tuple[int, int, int]]:
        return [r for r in self.requests if r[0] in READ_TABLES and (table is None or READ_TABLES[r[0]] == table)]

    async def start(self) -> None:
        self._server = ModbusTcpServer(self._device, address=(self.host, self.port), trace_pdu=self._trace)
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def set(self, table: str, address: int, values: list[Any]) -> None:
        """Change values as the device itself would (not counted as a client write)."""
        if self._server is None:
            raise RuntimeError("server is stopped")
        fc = {"coil": 5, "discrete_input": 2, "holding": 16, "input": 4}[table]
        self._setting = True
        try:
            await self._server.async_setValues(self.device_id, fc, address, values)
        finally:
            self._setting = False

    async def get(self, table: str, address: int, count: int = 1) -> list[Any]:
        if self._server is None:
            raise RuntimeError("server is stopped")
        fc = {"coil": 1, "discrete_input": 2, "holding": 3, "input": 4}[table]
        return list(await self._server.async_getValues(self.device_id, fc, address, count))


@pytest.fixture
async def modbus_device() -> AsyncIterator[ModbusTestDevice]:
    device = ModbusTestDevice()
    await device.start()
    try:
        yield device
    finally:
        await device.stop()
