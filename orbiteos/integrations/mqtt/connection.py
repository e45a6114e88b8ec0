"""The hub's side of the broker connection: routes messages to subscribers, tells who cares about the link."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from orbiteos.core import Hub, Unsubscribe
from orbiteos.integrations.mqtt.client import BrokerSettings, MqttClient, MqttMessage
from orbiteos.integrations.mqtt.topic import has_wildcard, matches

_LOGGER = logging.getLogger(__name__)

MessageCallback = Callable[[MqttMessage], Any]
ConnectionListener = Callable[[bool], Any]


class _Subscriber:
    __slots__ = ("topic_filter", "levels", "callback", "qos")

    def __init__(self, topic_filter: str, callback: MessageCallback, qos: int) -> None:
        self.topic_filter = topic_filter
        self.levels = topic_filter.split("/")
        self.callback = callback
        self.qos = qos


class MqttConnection:
    """One broker connection shared by every MQTT entity, trigger and publisher of a hub."""

    def __init__(self, hub: Hub, settings: BrokerSettings) -> None:
        self.hub = hub
        self.settings = settings
        self.client = MqttClient(settings, self._route, self._connection_changed)
        # Exact topics are looked up in a dict; only wildcard filters are matched one by one.
        self._exact: dict[str, list[_Subscriber]] = {}
        self._wildcards: list[_Subscriber] = []
        self._connection_listeners: list[ConnectionListener] = []

    @property
    def connected(self) -> bool:
        return self.client.connected

    def start(self) -> None:
        self.hub.create_task(self.client.run(), name=f"mqtt:{self.settings.address}")

    async def wait_connected(self) -> None:
        """Wait until connected (wrap it in `asyncio.timeout`)."""
        await self.client.wait_connected()

    async def subscribe(self, topic_filter: str, callback: MessageCallback, qos: int = 0) -> Unsubscribe:
        """Call `callback(message)` for each message on `topic_filter`; returns the unsubscribe function."""
        subscriber = _Subscriber(topic_filter, callback, qos)
        if has_wildcard(topic_filter):
            self._wildcards.append(subscriber)
        else:
            self._exact.setdefault(topic_filter, []).append(subscriber)
        await self.client.subscribe(topic_filter, qos)
        done = False

        def unsubscribe() -> None:
            nonlocal done
            if done:
                return
            done = True
            if has_wildcard(topic_filter):
                self._wildcards.remove(subscriber)
            else:
                bucket = self._exact.get(topic_filter, [])
                bucket.remove(subscriber)
                if not bucket:
                    self._exact.pop(topic_filter, None)
            self.client.unsubscribe(topic_filter)

        return unsubscribe

    async def publish(self, topic: str, payload: str | bytes | None, qos: int = 0, retain: bool = False) -> None:
        await self.client.publish(topic, payload, qos=qos, retain=retain)

    def listen_connection(self, listener: ConnectionListener) -> Unsubscribe:
        """Call `listener(connected)` whenever the broker link comes up or goes down."""
        self._connection_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._connection_listeners:
                self._connection_listeners.remove(listener)

        return unsubscribe

    def _connection_changed(self, connected: bool) -> None:
        for listener in tuple(self._connection_listeners):
            self._call(listener, connected, "connection listener")

    def _route(self, message: MqttMessage) -> None:
        exact = self._exact.get(message.topic)
        if exact:
            for subscriber in tuple(exact) if len(exact) > 1 else exact:
                self._call(subscriber.callback, message, message.topic)
        if self._wildcards:
            for subscriber in tuple(self._wildcards):
                if matches(subscriber.levels, message.topic):
                    self._call(subscriber.callback, message, message.topic)

    def _call(self, callback: Callable[[Any], Any], argument: Any, where: str) -> None:
        try:
            result = callback(argument)
        except Exception:
            _LOGGER.exception("MQTT subscriber %r failed on %s", callback, where)
            return
        if result is not None and inspect.isawaitable(result):
            self.hub.create_task(_await(result), name=f"mqtt:{where}")


async def _await(awaitable: Any) -> Any:
    return await awaitable
