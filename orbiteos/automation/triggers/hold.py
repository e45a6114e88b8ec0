"""Wait until a state has held for a period (`for:`), cancelled as soon as it stops holding."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from orbiteos.automation.status import TriggerStatus
from orbiteos.core import Event, Hub, State, Unsubscribe

_LOGGER = logging.getLogger(__name__)

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


def resume_pending(
    hub: Hub,
    status: TriggerStatus,
    value_of: Callable[[State | None], Any],
    matches: Callable[[Any], bool],
    resume: Callable[[str, State, timedelta, timedelta], None],
    pending: dict[str, list[Unsubscribe]],
) -> None:
    """Start again the `for:` timers a restart or reload cut off (automation/durable.py).

    A timer goes on, towards its original deadline, only if the entity holds the very value it
    was held at when the timer was written down: now, or else in the first state the entity gets
    (after a restart, an integration writes its entities after the automations attach).
    """
    for entity_id, (deadline, value, period) in status.resume_until.items():
        judge = _judge(hub, entity_id, deadline, value, period, value_of, matches, resume)
        state = hub.states.get(entity_id)
        if state is not None:
            judge(state)
        else:
            _on_first_state(hub, entity_id, judge, pending.setdefault(entity_id, []))
    status.resume_until = {}


def _judge(
    hub: Hub, entity_id: str, deadline: datetime, value: Any, period: timedelta,
    value_of: Callable[[State | None], Any], matches: Callable[[Any], bool],
    resume: Callable[[str, State, timedelta, timedelta], None],
) -> Callable[[State | None], None]:  # fmt: skip
    def judge(state: State | None) -> None:
        current = value_of(state)
        if state is None or current != value or not matches(current):
            _LOGGER.info("%s: 'for' not resumed: %r is not %r any more", entity_id, current, value)
            return
        resume(entity_id, state, period, max(deadline - hub.clock.now(), timedelta(0)))

    return judge


def _on_first_state(
    hub: Hub, entity_id: str, judge: Callable[[State | None], None], cancels: list[Unsubscribe]
) -> None:
    """`judge` the first state `entity_id` gets; `cancels` holds the way to stop waiting (a detach)."""

    def first(event: Event) -> None:
        stop()
        judge(event.data["new_state"])

    def stop() -> None:
        if stop in cancels:
            cancels.remove(stop)
        unsubscribe()

    unsubscribe = hub.states.listen(entity_id, first)
    cancels.append(stop)
