"""Publishes selected entities' states to the broker, as Home Assistant's `mqtt_statestream`.

`<base_topic>/<domain>/<object_id>/state` carries the state (retained); with `publish_attributes`
each attribute goes to `.../<attribute>` as JSON, with `publish_timestamps` `last_changed` and
`last_updated` too. Changes are coalesced per entity: under load the newest state is published and
older ones are skipped, so a slow broker never makes a queue grow. On (re)connect every selected
entity's current state is published again.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
from collections.abc import Mapping
from typing import Any

from orbiteos.core import EVENT_STATE_CHANGED, Event, Hub, State
from orbiteos.integrations.mqtt.client import MqttNotConnected
from orbiteos.integrations.mqtt.connection import MqttConnection

_LOGGER = logging.getLogger(__name__)


class EntityFilter:
    """include/exclude by `domains`, `entities` and `entity_globs`, as Home Assistant's entity filter.

    An entity named in `include.entities` is always selected and one in `exclude.entities` never;
    otherwise it must match an include domain or glob (when any are given) and no exclude domain or glob.
    """

    def __init__(self, include: Mapping[str, Any] | None, exclude: Mapping[str, Any] | None) -> None:
        include = include or {}
        exclude = exclude or {}
        self._include_entities = set(include.get("entities", []))
        self._include_domains = set(include.get("domains", []))
        self._include_globs = list(include.get("entity_globs", []))
        self._exclude_entities = set(exclude.get("entities", []))
        self._exclude_domains = set(exclude.get("domains", []))
        self._exclude_globs = list(exclude.get("entity_globs", []))
        self._cache: dict[str, bool] = {}

    def __call__(self, entity_id: str) -> bool:
        selected = self._cache.get(entity_id)
        if selected is None:
            selected = self._cache[entity_id] = self._decide(entity_id)
        return selected

    def _decide(self, entity_id: str) -> bool:
        if entity_id in self._include_entities:
            return True
        if entity_id in self._exclude_entities:
            return False
        domain = entity_id.partition(".")[0]
        if domain in self._exclude_domains or any(fnmatch.fnmatchcase(entity_id, g) for g in self._exclude_globs):
            return False
        if self._include_domains or self._include_globs or self._include_entities:
            return domain in self._include_domains or any(
                fnmatch.fnmatchcase(entity_id, g) for g in self._include_globs
            )
        return True


class StateStream:
    """Listens to state changes and publishes the selected ones."""

    def __init__(self, hub: Hub, connection: MqttConnection, config: Mapping[str, Any]) -> None:
        self.hub = hub
        self.connection = connection
        self.base_topic: str = config["base_topic"].rstrip("/")
        self.publish_attributes: bool = config.get("publish_attributes", False)
        self.publish_timestamps: bool = config.get("publish_timestamps", False)
        self.qos: int = config.get("qos", 1)
        self.retain: bool = config.get("retain", True)
        self.selects = EntityFilter(config.get("include"), config.get("exclude"))
        self._pending: dict[str, None] = {}
        self._wakeup = asyncio.Event()
        self.published = 0

    def start(self) -> None:
        self.hub.bus.listen(EVENT_STATE_CHANGED, self._on_state_changed)
        self.connection.listen_connection(self._on_connection)
        self.hub.create_task(self._run(), name="mqtt-statestream")

    def _on_state_changed(self, event: Event) -> None:
        entity_id = event.data["entity_id"]
        if self.selects(entity_id):
            self._pending[entity_id] = None
            self._wakeup.set()

    def _on_connection(self, connected: bool) -> None:
        if connected:
            for entity_id in self.hub.states.entity_ids():
                if self.selects(entity_id):
                    self._pending[entity_id] = None
            self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self.connection.connected:
                continue  # the reconnect publishes everything again
            while self._pending:
                entity_id = next(iter(self._pending))
                del self._pending[entity_id]
                try:
                    await self._publish(entity_id, self.hub.states.get(entity_id))
                except MqttNotConnected as err:
                    _LOGGER.debug("statestream paused: %s", err)
                    break

    async def _publish(self, entity_id: str, state: State | None) -> None:
        domain, _, object_id = entity_id.partition(".")
        prefix = f"{self.base_topic}/{domain}/{object_id}"
        publish = self.connection.publish
        if state is None:  # removed: clear the retained state
            await publish(f"{prefix}/state", b"", qos=self.qos, retain=self.retain)
            return
        await publish(f"{prefix}/state", state.state, qos=self.qos, retain=self.retain)
        if self.publish_timestamps:
            await publish(f"{prefix}/last_changed", state.last_changed.isoformat(), qos=self.qos, retain=self.retain)
            await publish(f"{prefix}/last_updated", state.last_updated.isoformat(), qos=self.qos, retain=self.retain)
        if self.publish_attributes:
            for name, value in state.attributes.items():
                payload = json.dumps(value, default=str)
                await publish(f"{prefix}/{name}", payload, qos=self.qos, retain=self.retain)
        self.published += 1
