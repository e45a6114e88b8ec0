"""`time` condition: local time after/before (times of day or entities) and on given weekdays.

`after: "22:00"`, `before: "06:00"` spans midnight, as Home Assistant.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation.condition import CONDITION_BASE, Check, ConditionError
from orbiteos.automation.trace import Trace
from orbiteos.core import Hub

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MIDNIGHT = time(0)
_END_OF_DAY = time(23, 59, 59, 999999)


def _time_or_entity(value: Any) -> time | str:
    if isinstance(value, str) and "." in value and not value[:1].isdigit():
        return cv.entity_id(value)
    return cv.time_of_day_value(value)


CONDITION_SCHEMA = vol.All(
    vol.Schema(
        {
            **CONDITION_BASE,
            vol.Required("condition"): vol.In(["time"]),
            vol.Optional("after"): _time_or_entity,
            vol.Optional("before"): _time_or_entity,
            vol.Optional("weekday"): vol.All(cv.ensure_list, [cv.one_of(*WEEKDAYS)]),
        }
    ),
    cv.has_at_least_one_key("after", "before", "weekday"),
)


def _entity_time(hub: Hub, entity_id: str) -> time | None:
    state = hub.states.get(entity_id)
    if state is None:
        raise ConditionError(f"unknown entity {entity_id}")
    if state.state in ("unknown", "unavailable"):
        return None
    attrs = state.attributes
    if "hour" in attrs and attrs.get("has_date") is not True:
        return time(int(attrs["hour"]), int(attrs.get("minute", 0)), int(attrs.get("second", 0)))
    try:
        moment = datetime.fromisoformat(state.state)
    except ValueError:
        try:
            return cv.time_of_day_value(state.state)
        except vol.Invalid:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(hub.config.tzinfo)
    return moment.time()


def build(hub: Hub, config: dict[str, Any]) -> Check:
    after_config, before_config = config.get("after"), config.get("before")
    weekdays = config.get("weekday")

    def resolve(value: time | str | None, default: time) -> time | None:
        if value is None:
            return default
        return _entity_time(hub, value) if isinstance(value, str) else value

    def check(variables: Mapping[str, Any], trace: Trace | None, path: str) -> bool:
        now = hub.now_local()
        after = resolve(after_config, _MIDNIGHT)
        before = resolve(before_config, _END_OF_DAY)
        current = now.time()
        if after is None or before is None:
            result = False
        elif after < before:
            result = after <= current < before
        else:
            result = not (before <= current < after)
        if result and weekdays:
            result = WEEKDAYS[now.weekday()] in weekdays
        if trace is not None:
            # Kept as they are: the trace turns them into text (the same text) only when it is read.
            trace.step(path, condition="time", result=result, now=now, after=after, before=before, weekday=weekdays)
        return result

    return check
