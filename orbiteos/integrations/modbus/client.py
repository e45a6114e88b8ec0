"""A thin asyncio Modbus TCP client over pymodbus: an async context manager, a timeout on every
request, and a short error tree. It knows nothing of the engine.

    async with ModbusClient("10.0.0.5", 502, timeout=3) as client:
        registers = await client.read_registers("holding", 40000, 50, device_id=1)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

_LOGGER = logging.getLogger(__name__)

EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusError(Exception):
    """Base of every error this client raises."""


class ModbusConnectionError(ModbusError):
    """The device could not be reached, or the connection dropped."""


class ModbusTimeoutError(ModbusError):
    """No reply within the timeout."""


class ModbusExceptionResponse(ModbusError):
    """The device answered with a Modbus exception code."""

    def __init__(self, function: str, address: int, code: int) -> None:
        self.code = code
        meaning = EXCEPTION_CODES.get(code, "unknown exception")
        super().__init__(f"{function} at {address}: exception {code} ({meaning})")


class ModbusReplyError(ModbusError):
    """A reply that does not fit the request: short, garbled or for another device."""


class ModbusClient:
    """One TCP connection to a Modbus server (a device or a gateway)."""

    def __init__(self, host: str, port: int = 502, *, timeout: float = 3.0, message_wait: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.message_wait = message_wait
        self._client: AsyncModbusTcpClient | None = None

    def __repr__(self) -> str:
        return f"<ModbusClient {self.host}:{self.port}>"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        self.close()
        # Reconnection is the caller's business (with its own backoff), so pymodbus must not retry.
        client = AsyncModbusTcpClient(
            self.host, port=self.port, timeout=self.timeout, retries=0, reconnect_delay=0,
            name=f"{self.host}:{self.port}",
        )
        try:
            async with asyncio.timeout(self.timeout):
                ok = await client.connect()
        except TimeoutError:
            client.close()
            raise ModbusConnectionError(f"{self.host}:{self.port}: no connection within {self.timeout} s") from None
        except OSError as err:
            client.close()
            raise ModbusConnectionError(f"{self.host}:{self.port}: {err}") from None
        if not ok:
            client.close()
            raise ModbusConnectionError(f"{self.host}:{self.port}: connection refused or unreachable")
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def __aenter__(self) -> ModbusClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- requests ----------------------------------------------------------
    async def read_registers(self, table: str, address: int, count: int, device_id: int = 1) -> list[int]:
        """Read `count` holding or input registers."""
        client = self._require()
        method = client.read_holding_registers if table == "holding" else client.read_input_registers
        request = method(address, count=count, device_id=device_id)
        reply = await self._request(f"read {table}", address, device_id, request)
        registers = getattr(reply, "registers", None)
        if not isinstance(registers, list) or len(registers) != count:
            got = len(registers) if isinstance(registers, list) else "no"
            raise ModbusReplyError(f"read {table} at {address}: asked {count} registers, got {got}")
        return registers

    async def read_bits(self, table: str, address: int, count: int, device_id: int = 1) -> list[bool]:
        """Read `count` coils or discrete inputs."""
        client = self._require()
        method = client.read_coils if table == "coil" else client.read_discrete_inputs
        request = method(address, count=count, device_id=device_id)
        reply = await self._request(f"read {table}", address, device_id, request)
        bits = getattr(reply, "bits", None)
        if not isinstance(bits, list) or len(bits) < count:
            raise ModbusReplyError(f"read {table} at {address}: asked {count} bits, got {len(bits or [])}")
        return [bool(b) for b in bits[:count]]

    async def write_registers(self, address: int, values: Sequence[int], device_id: int = 1) -> None:
        """Write holding registers: function 6 for one, 16 for several."""
        client = self._require()
        if len(values) == 1:
            request = client.write_register(address, int(values[0]), device_id=device_id)
        else:
            request = client.write_registers(address, [int(v) for v in values], device_id=device_id)
        await self._request("write registers", address, device_id, request)

    async def write_coils(self, address: int, values: Sequence[bool], device_id: int = 1) -> None:
        client = self._require()
        if len(values) == 1:
            request = client.write_coil(address, bool(values[0]), device_id=device_id)
        else:
            request = client.write_coils(address, [bool(v) for v in values], device_id=device_id)
        await self._request("write coils", address, device_id, request)

    # --- internals ---------------------------------------------------------
    def _require(self) -> AsyncModbusTcpClient:
        if self._client is None or not self._client.connected:
            raise ModbusConnectionError(f"{self.host}:{self.port}: not connected")
        return self._client

    async def _request(self, function: str, address: int, device_id: int, request: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                reply = await request
        except TimeoutError:
            # A late reply would be taken for the next request's; start over on a new connection.
            self.close()
            raise ModbusTimeoutError(
                f"{function} at {address} (device {device_id}): no reply in {self.timeout} s"
            ) from None
        except ModbusException as err:
            text = str(err)
            if "transaction id" in text or "device id" in text:
                self.close()
                raise ModbusReplyError(f"{function} at {address}: {text}") from None
            if not self.connected:
                self.close()
                raise ModbusConnectionError(f"{self.host}:{self.port}: {text}") from None
            self.close()
            raise ModbusTimeoutError(f"{function} at {address} (device {device_id}): {text}") from None
        except OSError as err:
            self.close()
            raise ModbusConnectionError(f"{self.host}:{self.port}: {err}") from None
        _raise_swallowed_cancel()
        if self.message_wait > 0:
            await asyncio.sleep(self.message_wait)
        if reply is None:
            raise ModbusReplyError(f"{function} at {address}: empty reply")
        if reply.isError():
            code = getattr(reply, "exception_code", 0)
            raise ModbusExceptionResponse(function, address, int(code))
        return reply


def _raise_swallowed_cancel() -> None:
    """Re-raise a cancellation that pymodbus' `asyncio.wait_for` swallowed.

    On Python 3.11, `wait_for` returns the result and drops the CancelledError when the reply and the
    cancellation arrive together; the task still counts the request, so honour it here.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
