"""A thin MQTT client over aiomqtt: stays connected, re-subscribes, hands each message to one handler.

Knows nothing of the engine. `MqttClient.run()` connects, re-sends every subscription, publishes
the birth message, then delivers messages until the connection drops; it reconnects with capped
exponential backoff and jitter until cancelled. Messages are handed to `on_message` synchronously
as paho decodes them (no per-message task or queue), which is what makes >10,000 messages/s possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

_LOGGER = logging.getLogger(__name__)

PROTOCOLS = {"3.1": aiomqtt.ProtocolVersion.V31, "3.1.1": aiomqtt.ProtocolVersion.V311, "5": aiomqtt.ProtocolVersion.V5}


class MqttNotConnected(Exception):
    """A publish or subscribe was attempted while the broker is not connected."""


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """One received message; `payload` is decoded as UTF-8 (undecodable bytes replaced)."""

    topic: str
    payload: str
    qos: int
    retain: bool
    payload_bytes: bytes = b""


@dataclass(frozen=True, slots=True)
class Publication:
    """A message to send: the birth and last-will messages, for example."""

    topic: str
    payload: str | bytes | None = None
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class TlsSettings:
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    keepalive: int = 60
    protocol: str = "3.1.1"
    tls: TlsSettings | None = None
    birth: Publication | None = None
    will: Publication | None = None
    # Reconnect delay: doubles from `reconnect_min_s` up to `reconnect_max_s`, each with jitter.
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    timeout_s: float = 10.0
    # Also publish the last-will message on a clean disconnect (so "offline" is said either way).
    will_on_close: bool = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def backoff_delay(attempt: int, minimum: float, maximum: float) -> float:
    """Capped exponential backoff with "equal jitter": between half and all of the step."""
    step = min(maximum, minimum * (2 ** min(attempt, 30)))
    return step / 2 + random.uniform(0, step / 2)


def _dispatch_queue(handler: Callable[[aiomqtt.Message], None]) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue class for aiomqtt whose `put_nowait` hands the message straight to `handler`."""

    class DispatchQueue(asyncio.Queue):  # type: ignore[type-arg]
        def put_nowait(self, item: aiomqtt.Message) -> None:
            try:
                handler(item)
            except Exception:
                _LOGGER.exception("handling an MQTT message on %s failed", item.topic)

    return DispatchQueue


@dataclass
class _Subscription:
    qos: int
    users: int = 1


@dataclass
class ClientStats:
    connects: int = 0
    disconnects: int = 0
    received: int = 0
    last_error: str | None = field(default=None)


class MqttClient:
    """One connection to one broker, kept alive until `run()` is cancelled."""

    def __init__(
        self,
        settings: BrokerSettings,
        on_message: Callable[[MqttMessage], None],
        on_connection_change: Callable[[bool], None] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._on_message = on_message
        self._on_connection_change = on_connection_change
        self._sleep = sleep
        self._client: aiomqtt.Client | None = None
        self._subscriptions: dict[str, _Subscription] = {}
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.stats = ClientStats()

    def close(self) -> None:
        """We are shutting down: stop sending unsubscribes; `run()`'s cancellation disconnects."""
        self._closing = True

    @property
    def connected(self) -> bool:
        return self._client is not None and self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until connected (wrap it in `asyncio.timeout`)."""
        await self._connected.wait()

    # --- subscriptions -----------------------------------------------------------------
    async def subscribe(self, topic_filter: str, qos: int = 0) -> None:
        """Subscribe (counted: N subscribes need N unsubscribes); kept across reconnects."""
        existing = self._subscriptions.get(topic_filter)
        if existing is not None:
            existing.users += 1
            if qos <= existing.qos:
                return
            existing.qos = qos
        else:
            self._subscriptions[topic_filter] = _Subscription(qos)
        client = self._client
        if client is not None and self._connected.is_set():
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    await client.subscribe(topic_filter, qos=qos)
            except (aiomqtt.MqttError, TimeoutError) as err:
                # The reconnect will subscribe again.
                _LOGGER.warning("subscribing to %s on %s failed: %s", topic_filter, self.settings.address, err)

    def unsubscribe(self, topic_filter: str) -> None:
        existing = self._subscriptions.get(topic_filter)
        if existing is None:
            return
        existing.users -= 1
        if existing.users > 0:
            return
        del self._subscriptions[topic_filter]
        if self.connected and not self._closing:
            self._spawn(self._send_unsubscribe(topic_filter), f"mqtt-unsubscribe:{topic_filter}")

    async def _send_unsubscribe(self, topic_filter: str) -> None:
        client = self._client
        # Subscribed again in the meantime: the broker must keep it.
        if client is None or topic_filter in self._subscriptions:
            return
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await client.unsubscribe(topic_filter)
        except (aiomqtt.MqttError, TimeoutError) as err:
            _LOGGER.debug("unsubscribing from %s failed: %s", topic_filter, err)

    @property
    def subscriptions(self) -> dict[str, int]:
        return {topic: sub.qos for topic, sub in self._subscriptions.items()}

    # --- publishing --------------------------------------------------------------------
    async def publish(self, topic: str, payload: str | bytes | None, qos: int = 0, retain: bool = False) -> None:
        client = self._client
        if client is None or not self._connected.is_set():
            raise MqttNotConnected(f"not connected to the MQTT broker {self.settings.address}")
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await client.publish(topic, payload, qos=qos, retain=retain)
        except (aiomqtt.MqttError, TimeoutError) as err:
            reason = err if isinstance(err, aiomqtt.MqttError) else "no acknowledgement in time"
            raise MqttNotConnected(f"publishing to {topic} on {self.settings.address} failed: {reason}") from err

    # --- the connection ----------------------------------------------------------------
    async def run(self) -> None:
        """Stay connected until cancelled."""
        attempt = 0
        try:
            while True:
                connects_before = self.stats.connects
                try:
                    await self._connect_and_serve()
                except (aiomqtt.MqttError, OSError) as err:
                    reason = "no answer in time" if isinstance(err, TimeoutError) else str(err) or type(err).__name__
                    if self.stats.connects != connects_before:
                        _LOGGER.debug("MQTT broker %s: %s", self.settings.address, reason)  # "disconnected" said it
                    elif self.stats.last_error != reason or attempt == 0:
                        # One warning per distinct error, not one per retry.
                        _LOGGER.warning("MQTT broker %s: %s", self.settings.address, reason)
                    self.stats.last_error = reason
                if self.stats.connects != connects_before:
                    attempt = 0  # we were connected: the first retry comes quickly
                delay = backoff_delay(attempt, self.settings.reconnect_min_s, self.settings.reconnect_max_s)
                attempt += 1
                _LOGGER.debug("reconnecting to %s in %.2f s", self.settings.address, delay)
                await self._sleep(delay)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _connect_and_serve(self) -> None:
        # aiomqtt's own timeouts go through Python 3.11's asyncio.wait_for, which can lose a
        # cancellation that arrives as the awaited call completes (the hub's stop would then wait
        # forever). So the client is made with no timeout of its own and every wait here is bounded
        # by asyncio.timeout instead, which does not lose cancellations.
        timeout_s = self.settings.timeout_s
        client = self._make_client()
        async with asyncio.timeout(timeout_s):
            await client.__aenter__()
        self._client = client
        try:
            sent = self.subscriptions
            async with asyncio.timeout(timeout_s):
                if sent:
                    await client.subscribe(list(sent.items()))
                if self.settings.birth is not None:
                    birth = self.settings.birth
                    await client.publish(birth.topic, birth.payload, qos=birth.qos, retain=birth.retain)
            self.stats.connects += 1
            _LOGGER.info("connected to MQTT broker %s", self.settings.address)
            self._set_connected(True)
            # Subscriptions made while the ones above were on their way have not been sent yet.
            missed = [(topic, qos) for topic, qos in self.subscriptions.items() if sent.get(topic, -1) < qos]
            if missed:
                async with asyncio.timeout(timeout_s):
                    await client.subscribe(missed)
            # Messages go to the dispatch queue; this loop only ends when the connection drops.
            async for _ in client.messages:
                pass
        finally:
            self._client = None
            if self._connected.is_set():
                self.stats.disconnects += 1
                if self._closing:
                    _LOGGER.info("disconnecting from MQTT broker %s", self.settings.address)
                else:
                    _LOGGER.warning("disconnected from MQTT broker %s", self.settings.address)
            self._set_connected(False)
            try:
                async with asyncio.timeout(timeout_s):
                    will = self.settings.will
                    if will is not None and self.settings.will_on_close:
                        # Fails at once when the connection is already gone; then the broker sends the will.
                        with contextlib.suppress(aiomqtt.MqttError):
                            await client.publish(will.topic, will.payload, qos=will.qos, retain=will.retain)
                    # aiomqtt registers socket writers with call_soon_threadsafe: let any that a last
                    # publish scheduled run while the socket is still open, or asyncio logs a bad fd.
                    await asyncio.sleep(0)
                    await client.__aexit__(None, None, None)
            except (aiomqtt.MqttError, TimeoutError) as err:
                _LOGGER.debug("closing the connection to %s: %s", self.settings.address, err)

    def _set_connected(self, connected: bool) -> None:
        if connected == self._connected.is_set():
            return
        if connected:
            self._connected.set()
        else:
            self._connected.clear()
        if self._on_connection_change is not None:
            try:
                self._on_connection_change(connected)
            except Exception:
                _LOGGER.exception("connection listener failed")

    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        will = None
        if s.will is not None:
            will = aiomqtt.Will(s.will.topic, s.will.payload, qos=s.will.qos, retain=s.will.retain)
        tls_context = None
        if s.tls is not None:
            tls_context = ssl.create_default_context(cafile=s.tls.ca_certs)
            if s.tls.certfile:
                tls_context.load_cert_chain(s.tls.certfile, s.tls.keyfile)
            if s.tls.insecure:
                tls_context.check_hostname = False
                tls_context.verify_mode = ssl.CERT_NONE
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            protocol=PROTOCOLS[s.protocol],
            will=will,
            keepalive=s.keepalive,
            timeout=math.inf,  # bounded by asyncio.timeout around each call instead
            tls_context=tls_context,
            queue_type=_dispatch_queue(self._deliver),
            logger=_LOGGER,
        )
        # Bursts of subscribes and publishes (statestream, many entities) are normal here.
        client.pending_calls_threshold = 10_000
        return client

    def _deliver(self, message: aiomqtt.Message) -> None:
        self.stats.received += 1
        raw = message.payload
        if isinstance(raw, bytes | bytearray):
            payload_bytes = bytes(raw)
            try:
                payload = payload_bytes.decode()
            except UnicodeDecodeError:
                payload = payload_bytes.decode(errors="replace")
        else:
            payload = "" if raw is None else str(raw)
            payload_bytes = payload.encode()
        self._on_message(
            MqttMessage(message.topic.value, payload, message.qos, bool(message.retain), payload_bytes)
        )

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
