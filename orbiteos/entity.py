"""Entity base class: something an integration exposes as one entry in the state machine."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slugify import slugify as unicode_slugify

from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Context, Hub, State
from orbiteos.errors import InvalidStateError

_LOGGER = logging.getLogger(__name__)

# As Home Assistant's entities: a context handed over by a service call is used by the entity's
# state writes for this long (so the device's acknowledgement carries the call that caused it).
CONTEXT_RECENT_S = 5.0


def slugify(text: str, separator: str = "_") -> str:
    """`"Überschuß (main)"` -> `uberschuss_main`: Home Assistant's slug (python-slugify, with
    transliteration); `unknown` when nothing of the text is left."""
    return unicode_slugify(str(text), separator=separator) or "unknown"


class Entity:
    """Holds an entity's value and attributes and writes them to the hub's state machine.

    Subclasses set `native_state` and `extra_attributes` (or override the properties) and call
    `write_state()`. While `available` is false the state is `unavailable`, never a stale number.
    """

    def __init__(self, hub: Hub, entity_id: str, name: str | None = None) -> None:
        self.hub = hub
        self.entity_id = entity_id.lower()
        self.name = name
        self.native_state: Any = None
        self.extra_attributes: dict[str, Any] = {}
        self.available = True
        self.unit_of_measurement: str | None = None
        self._context: Context | None = None
        self._context_set_at = 0.0

    @property
    def domain(self) -> str:
        return self.entity_id.partition(".")[0]

    @property
    def state(self) -> Any:
        return self.native_state

    @property
    def attributes(self) -> Mapping[str, Any]:
        attrs = dict(self.extra_attributes)
        if self.unit_of_measurement is not None:
            attrs["unit_of_measurement"] = self.unit_of_measurement
        if self.name:
            attrs["friendly_name"] = self.name
        return attrs

    def set_context(self, context: Context) -> None:
        """Make the next state writes (for CONTEXT_RECENT_S seconds) carry `context`."""
        self._context = context
        self._context_set_at = self.hub.clock.monotonic()

    def write_state(self, context: Context | None = None, force_update: bool = False) -> State:
        if context is None and self._context is not None:
            if self.hub.clock.monotonic() - self._context_set_at <= CONTEXT_RECENT_S:
                context = self._context
            else:
                self._context = None
        state = self.state if self.available else STATE_UNAVAILABLE
        try:
            return self.hub.states.set(
                self.entity_id, state, self.attributes, force_update=force_update, context=context
            )
        except InvalidStateError as err:
            # As Home Assistant's entities: the state is refused and the entity falls back to unknown.
            _LOGGER.error("%s; falling back to %s", err, STATE_UNKNOWN)
            return self.hub.states.set(self.entity_id, STATE_UNKNOWN, {}, force_update=force_update, context=context)

    def set_available(self, available: bool) -> None:
        if available != self.available:
            self.available = available
            self.write_state()
