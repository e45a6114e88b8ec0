"""Follow a template's result as the states it reads change, as Home Assistant's template tracking does.

A `TemplateTracker` renders its template, listens to what the render read (entities, whole domains,
all states, domain lifecycles, the clock), re-renders when one of those changes and calls
`on_change(event, result)` only when the result differs from the last one (`result` is the value or
the `TemplateError` of the render; two errors in a row are no change).

Rate limits, as Home Assistant's: a template that iterates a domain (`states.battery`) re-renders at
most once a second for changes in that domain, one that iterates all states (or whose last render
failed) at most once a minute; changes of entities it names (`states('sensor.x')`) always render at
once. A change inside the window is deferred to the window's end, and the first deferred change is
the event the render reports (later ones in the window only share that render). A minute tick (for
`now()`) renders at once and drops a deferred change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from orbiteos.automation.triggers.schedule import track_moments
from orbiteos.automation.triggers.time_pattern import next_matching
from orbiteos.core import EVENT_STATE_CHANGED, Event, Hub, Unsubscribe
from orbiteos.errors import TemplateError
from orbiteos.template import RenderInfo, Template

_LOGGER = logging.getLogger(__name__)

ALL_STATES_RATE_LIMIT = timedelta(minutes=1)
DOMAIN_STATES_RATE_LIMIT = timedelta(seconds=1)

ResultListener = Callable[[Event | None, Any], None]

_NO_RESULT = object()
_HOURS = list(range(24))
_MINUTES = list(range(60))


def rate_limit(info: RenderInfo, failed: bool) -> timedelta | None:
    """How often changes outside the named entities may re-render a template that read `info`."""
    if info.all_states or failed:
        return ALL_STATES_RATE_LIMIT
    if info.domains or info.domains_lifecycle:
        return DOMAIN_STATES_RATE_LIMIT
    return None


class TemplateTracker:
    """One template followed over time; `start()` renders and listens, `stop()` lets go of everything."""

    def __init__(self, hub: Hub, template: Template, variables: Mapping[str, Any], on_change: ResultListener) -> None:
        self._hub = hub
        self._template = template
        self._variables = variables
        self._on_change = on_change
        self._info = RenderInfo()
        self._failed = False
        self._last_result: Any = _NO_RESULT
        self._last_render: datetime | None = None
        self._deferred: asyncio.TimerHandle | None = None
        self._entity_listener: Unsubscribe | None = None
        self._bus_listener: Unsubscribe | None = None
        self._watched_entities: frozenset[str] = frozenset()
        self._clock_tick: Unsubscribe | None = None

    @property
    def info(self) -> RenderInfo:
        """What the last render read."""
        return self._info

    def start(self) -> Any:
        """Render and start listening; returns the first result (a value or a TemplateError)."""
        result = self._render()
        self._last_result = result
        return result

    def stop(self) -> None:
        self._cancel_deferred()
        self._listen_entities(frozenset())
        if self._bus_listener is not None:
            self._bus_listener()
            self._bus_listener = None
        if self._clock_tick is not None:
            self._clock_tick()
            self._clock_tick = None

    # --- rendering -------------------------------------------------------------------------------
    def _render(self) -> Any:
        result, info = self._template.render_tracked(self._variables)
        self._info = info
        self._failed = isinstance(result, TemplateError)
        self._listen(info)
        return result

    def _refresh(self, event: Event | None, now: datetime) -> None:
        self._cancel_deferred()
        self._last_render = now
        result = self._render()
        last, self._last_result = self._last_result, result
        if last is not _NO_RESULT and (
            result == last or (isinstance(result, TemplateError) and isinstance(last, TemplateError))
        ):
            return
        self._on_change(event, result)

    # --- what makes it render --------------------------------------------------------------------
    def _matters(self, event: Event) -> bool:
        """Whether a state change can change the result (Home Assistant's render filter)."""
        info = self._info
        entity_id: str = event.data["entity_id"]
        if self._failed or info.all_states or entity_id in info.entities:
            return True
        domain = entity_id.partition(".")[0]
        if domain in info.domains:
            return True
        if event.data.get("old_state") is not None and event.data.get("new_state") is not None:
            return False  # a plain change: only an entity added or removed counts below
        return info.all_states_lifecycle or domain in info.domains_lifecycle

    def _state_changed(self, event: Event) -> None:
        if not self._matters(event):
            return
        limit = None if event.data["entity_id"] in self._info.entities else rate_limit(self._info, self._failed)
        now = event.time_fired
        if limit is not None and self._last_render is not None and self._last_render + limit > now:
            if self._deferred is None:
                delay = (self._last_render + limit - now).total_seconds()
                self._deferred = self._hub.clock.call_later(delay, self._replay, event)
            return
        self._refresh(event, now)

    def _replay(self, event: Event) -> None:
        self._deferred = None
        self._refresh(event, self._hub.clock.now())

    def _cancel_deferred(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None

    def _listen(self, info: RenderInfo) -> None:
        if info.entities != self._watched_entities:
            self._listen_entities(frozenset(info.entities))
        # Domains, all states and lifecycles: one listener on every state change, filtered above.
        # (A failed render keeps listening to what it read before it failed.)
        wide = bool(info.domains or info.domains_lifecycle or info.all_states or info.all_states_lifecycle)
        if wide is (self._bus_listener is not None) and info.uses_time is (self._clock_tick is not None):
            return  # the common case: listening to the same things as before
        if wide and self._bus_listener is None:
            self._bus_listener = self._hub.bus.listen(EVENT_STATE_CHANGED, self._wide_change)
        elif not wide and self._bus_listener is not None:
            self._bus_listener()
            self._bus_listener = None
        if info.uses_time and self._clock_tick is None:
            self._clock_tick = track_moments(
                self._hub,
                lambda after: next_matching(after.astimezone(self._hub.config.tzinfo), _HOURS, _MINUTES, [0]),
                lambda moment: self._refresh(None, self._hub.clock.now()),
            )
        elif not info.uses_time and self._clock_tick is not None:
            self._clock_tick()
            self._clock_tick = None

    def _listen_entities(self, entities: frozenset[str]) -> None:
        if self._entity_listener is not None:
            self._entity_listener()
            self._entity_listener = None
        self._watched_entities = entities
        if entities:
            self._entity_listener = self._hub.states.listen(entities, self._named_entity_changed)

    def _named_entity_changed(self, event: Event) -> None:
        # An entity the last render named: it always matters and is never rate-limited.
        self._refresh(event, event.time_fired)

    def _wide_change(self, event: Event) -> None:
        if event.data["entity_id"] not in self._watched_entities:  # those come by their own listener
            self._state_changed(event)
