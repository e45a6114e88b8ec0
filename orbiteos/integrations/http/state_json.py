"""JSON text of states and events, cached per immutable State (a state is serialised once,
however many clients and requests want it)."""

from __future__ import annotations

from orbiteos.core import EVENT_STATE_CHANGED, Event, State
from orbiteos.integrations.http.errors import dumps as _dumps

# Entities whose JSON is kept; past it the cache starts again (a site has far fewer live entities).
MAX_ENTRIES = 100_000


class StateJsonCache:
    """entity_id -> (State, its JSON); a new State object for the entity replaces the entry."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[State, str]] = {}
        self._event: tuple[Event | None, str] = (None, "")

    def state(self, state: State) -> str:
        cached = self._cache.get(state.entity_id)
        if cached is not None and cached[0] is state:
            return cached[1]
        text = _dumps(state.as_dict())
        if cached is None and len(self._cache) >= MAX_ENTRIES:
            self._cache.clear()  # entities come and go: the texts of gone ones must not pile up
        self._cache[state.entity_id] = (state, text)
        return text

    def states(self, states: list[State]) -> str:
        return "[" + ",".join(self.state(s) for s in states) + "]"

    def event(self, event: Event) -> str:
        """An event as Home Assistant's `Event.as_dict()` JSON; the last one is remembered for fan-out."""
        last, text = self._event
        if last is event:
            return text
        if event.event_type == EVENT_STATE_CHANGED:
            old, new = event.data.get("old_state"), event.data.get("new_state")
            data = (
                '{"entity_id":' + _dumps(event.data.get("entity_id"))
                + ',"old_state":' + (self.state(old) if isinstance(old, State) else "null")
                + ',"new_state":' + (self.state(new) if isinstance(new, State) else "null") + "}"
            )
            text = (
                '{"event_type":"state_changed","data":' + data
                + ',"time_fired":' + _dumps(event.time_fired.isoformat())
                + ',"origin":"LOCAL","context":' + _dumps(event.context.as_dict()) + "}"
            )
        else:
            text = _dumps(event.as_dict())
        self._event = (event, text)
        return text
