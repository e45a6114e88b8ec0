"""Wait until a state has held for a period (`for:`), cancelled as soon as it stops holding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from orbiteos.core import Event, Hub, State, Unsubscribe

SameCheck = Callable[[State | None], bool]


def track_same_state(
    hub: Hub, entity_id: str, period: timedelta, on_held: Callable[[], None], still_same: SameCheck
) -> Unsubscribe:
    """Call `on_held()` after `period` unless a state change of `entity_id` fails `still_same` first."""
    unsubscribe_state: Unsubscribe | None = None

    def cancel() -> None:
        nonlocal unsubscribe_state
        timer.cancel()
        if unsubscribe_state is not None:
            unsubscribe_state()
            unsubscribe_state = None

    def held() -> None:
        cancel()
        on_held()

    def changed(event: Event) -> None:
        if not still_same(event.data["new_state"]):
            cancel()

    timer = hub.clock.call_later(period.total_seconds(), held)
    unsubscribe_state = hub.states.listen(entity_id, changed)
    return cancel
