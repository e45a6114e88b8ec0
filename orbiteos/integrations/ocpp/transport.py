"""The `ocpp` library's connection (`recv()`/`send()`) over an aiohttp websocket, server or client side."""

from __future__ import annotations

import base64
import binascii

from aiohttp import ClientWebSocketResponse, WSMsgType, web

SUBPROTOCOL = "ocpp1.6"


class ConnectionClosed(ConnectionError):
    """The websocket closed or failed; the charge point's `start()` loop ends with this."""


class WebSocketConnection:
    """Adapts an aiohttp websocket to the two coroutines the `ocpp` library's ChargePoint calls."""

    def __init__(self, ws: web.WebSocketResponse | ClientWebSocketResponse) -> None:
        self._ws = ws

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def recv(self) -> str:
        """The next text frame; binary frames are decoded as UTF-8 (OCPP-J only uses text)."""
        while True:
            msg = await self._ws.receive()
            if msg.type is WSMsgType.TEXT:
                return str(msg.data)
            if msg.type is WSMsgType.BINARY:
                return bytes(msg.data).decode("utf-8", errors="replace")
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                raise ConnectionClosed(f"websocket closed ({msg.type.name}: {msg.extra or msg.data})")
            # PING/PONG are answered by aiohttp itself; anything else is not ours to read.

    async def send(self, message: str) -> None:
        if self._ws.closed:
            raise ConnectionClosed("websocket already closed")
        try:
            await self._ws.send_str(message)
        except ConnectionResetError as err:
            raise ConnectionClosed(str(err)) from err

    async def close(self, message: str = "") -> None:
        await self._ws.close(message=message.encode())


def basic_auth_header(login: str, password: str) -> str:
    """The `Authorization` value of OCPP security profile 1 (the login is the charge point id)."""
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


def parse_basic_auth(header: str) -> tuple[str, str] | None:
    """`Basic <base64 login:password>` -> (login, password); None when the header is anything else."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None
