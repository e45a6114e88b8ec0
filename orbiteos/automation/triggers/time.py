"""`time` trigger: `at` a time of day ("HH:MM[:SS]") or the time an entity holds, in the site's zone.

An entity may hold a time of day (`input_datetime`-like, "HH:MM:SS", or attributes hour/minute/second)
or a full timestamp (ISO 8601, as a `timestamp` sensor); the trigger follows its changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.automation.triggers.schedule import next_time_of_day, track_moments
from orbiteos.core import Context, Event, Hub, State, Unsubscribe

_LOGGER = logging.getLogger(__name__)


def _at_value(value: Any) -> str:
    if isinstance(value, str) and "." in value and not value[0].isdigit():
        return cv.entity_id(value)
    moment = cv.time_of_day_value(value)
    return moment.strftime("%H:%M:%S")


TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["time"]),
        vol.Required("at"): vol.All(cv.ensure_list, [_at_value]),
    }
)


def _parse_hms(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(":")]
    return parts[0], parts[1], parts[2] if len(parts) > 2 else 0


def _moment_of(state: State | None, hub: Hub) -> tuple[int, int, int] | datetime | None:
    """What an entity's state says: a time of day, a timestamp, or nothing usable."""
    if state is None or state.state in ("unknown", "unavailable", ""):
        return None
    attrs = state.attributes
    if attrs.get("has_date") is False and attrs.get("has_time", True) and "hour" in attrs:
        return int(attrs["hour"]), int(attrs.get("minute", 0)), int(attrs.get("second", 0))
    text = state.state.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            return _parse_hms(str(cv.time_of_day_value(text).strftime("%H:%M:%S")))
        except vol.Invalid:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=hub.config.tzinfo)
    return moment


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    trigger_data = trigger_info["trigger_data"]
    cancels: list[Unsubscribe] = []

    def fire_at(entity_id: str | None) -> Callable[[datetime], None]:
        def on_moment(moment: datetime) -> None:
            action(
                {
                    "trigger": {
                        **trigger_data,
                        "platform": "time",
                        "now": hub.now_local(),
                        "description": "time" if entity_id is None else f"time set in {entity_id}",
                        "entity_id": entity_id,
                    }
                },
                Context(),
            )

        return on_moment

    status = trigger_info.get("status")
    if status is not None:
        status.watching = "at " + ", ".join(config["at"])
    for at in config["at"]:
        noted = status.scheduled(at) if status is not None else None
        if "." not in at:
            cancels.append(track_moments(hub, next_time_of_day(hub, _parse_hms(at)), fire_at(None), noted))
            continue
        cancels.append(_track_entity(hub, at, fire_at(at), noted))

    def detach() -> None:
        for cancel in cancels:
            cancel()

    return detach


def _track_entity(
    hub: Hub,
    entity_id: str,
    on_moment: Callable[[datetime], None],
    on_scheduled: Callable[[datetime | None], None] | None = None,
) -> Unsubscribe:
    current: list[Unsubscribe] = []

    def arm(state: State | None) -> None:
        for cancel in current:
            cancel()
        current.clear()
        moment = _moment_of(state, hub)
        if moment is None:
            if on_scheduled is not None:
                on_scheduled(None)
            return
        if isinstance(moment, tuple):
            current.append(track_moments(hub, next_time_of_day(hub, moment), on_moment, on_scheduled))
            return
        once = moment

        def next_after(after: datetime) -> datetime | None:
            return once if once > after else None

        current.append(track_moments(hub, next_after, on_moment, on_scheduled))

    def changed(event: Event) -> None:
        arm(event.data["new_state"])

    arm(hub.states.get(entity_id))
    unsubscribe = hub.states.listen(entity_id, changed)

    def detach() -> None:
        unsubscribe()
        for cancel in current:
            cancel()

    return detach
