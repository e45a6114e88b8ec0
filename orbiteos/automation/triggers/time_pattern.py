"""`time_pattern` trigger: local times matching `hours`/`minutes`/`seconds` (a value, `*`, or `/N`)."""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from typing import Any

import voluptuous as vol

from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.automation.triggers.schedule import track_moments
from orbiteos.core import Context, Hub, Unsubscribe


def _pattern(maximum: int) -> Any:
    def validate(value: Any) -> str:
        text = str(value).strip()
        if text == "*":
            return text
        number = text[1:] if text.startswith("/") else text
        if not number.isdigit() or int(number) > maximum or (text.startswith("/") and int(number) == 0):
            raise vol.Invalid(f"expected '*', a number 0-{maximum} or '/N', found {value!r}")
        return text

    return validate


def _defaults(value: dict[str, Any]) -> dict[str, Any]:
    # As Home Assistant: a larger unit given defaults the next smaller one to 0; the rest match all.
    if not any(key in value for key in ("hours", "minutes", "seconds")):
        raise vol.Invalid("expected at least one of hours, minutes, seconds")
    value = dict(value)
    if "minutes" not in value and "hours" in value:
        value["minutes"] = "0"
    if "seconds" not in value and "minutes" in value:
        value["seconds"] = "0"
    for key in ("hours", "minutes", "seconds"):
        value.setdefault(key, "*")
    return value


TRIGGER_SCHEMA = vol.All(
    vol.Schema(
        {
            **TRIGGER_BASE,
            vol.Required("platform"): vol.In(["time_pattern"]),
            vol.Optional("hours"): _pattern(23),
            vol.Optional("minutes"): _pattern(59),
            vol.Optional("seconds"): _pattern(59),
        }
    ),
    _defaults,
)


_ONE_DAY = timedelta(days=1)


def allowed_values(pattern: str, maximum: int) -> list[int]:
    if pattern == "*":
        return list(range(maximum + 1))
    if pattern.startswith("/"):
        step = int(pattern[1:])
        return [v for v in range(maximum + 1) if v % step == 0]
    return [int(pattern)]


def next_matching(after: datetime, hours: list[int], minutes: list[int], seconds: list[int]) -> datetime:
    """The first whole second strictly after `after` (local, aware) whose h/m/s are all allowed.

    Across a change of the clocks: a wall-clock time that does not exist (spring forward) is
    skipped, and every moment returned lies after `after` as an instant. Running through a fall
    back, the wall clock's first pass is followed and the repeated hour does not fire again; a
    start inside the repeated hour (a reload then) fires on through it, never in the past.
    """
    after_ts = after.timestamp()
    while True:
        first = _next_wall_clock_match(after, hours, minutes, seconds)  # fold=0
        second = first.replace(fold=1)
        if first.utcoffset() == second.utcoffset():  # the common case: the time comes once
            if first.timestamp() > after_ts:
                return first
        else:  # it comes twice (fall back), or not at all (spring forward: both folds are made up)
            for moment in (first, second):
                if _exists(moment) and moment.timestamp() > after_ts:
                    return moment
        after = first  # in the past as an instant, or absent from the clock: look further on


def _exists(moment: datetime) -> bool:
    """Whether this local wall-clock time happens at all (not in a spring-forward gap)."""
    tz = moment.tzinfo
    return moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == moment.replace(tzinfo=None)


def _next_wall_clock_match(after: datetime, hours: list[int], minutes: list[int], seconds: list[int]) -> datetime:
    """The first allowed wall-clock time after `after`'s wall-clock time (fold and gaps ignored).

    `hours`, `minutes` and `seconds` are sorted: each unit is looked up, not counted through.
    """
    day = after.date()
    hour, minute, second = after.hour, after.minute, after.second + 1  # the next whole second
    for _ in range(3):
        h_index = bisect_left(hours, hour)
        while h_index < len(hours):
            h = hours[h_index]
            if h != hour:  # a later hour: from its first minute and second
                hour, minute, second = h, 0, 0
            m_index = bisect_left(minutes, minute)
            while m_index < len(minutes):
                m = minutes[m_index]
                if m != minute:
                    minute, second = m, 0
                s_index = bisect_left(seconds, second)
                if s_index < len(seconds):
                    return datetime(day.year, day.month, day.day, h, m, seconds[s_index], tzinfo=after.tzinfo)
                m_index += 1
            h_index += 1
        day += _ONE_DAY
        hour = minute = second = 0
    raise AssertionError("unreachable: a time pattern matches within two days")


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    hours = allowed_values(config["hours"], 23)
    minutes = allowed_values(config["minutes"], 59)
    seconds = allowed_values(config["seconds"], 59)
    trigger_data = trigger_info["trigger_data"]

    def next_after(after: datetime) -> datetime:
        return next_matching(after.astimezone(hub.config.tzinfo), hours, minutes, seconds)

    def on_moment(moment: datetime) -> None:
        action(
            {"trigger": {**trigger_data, "platform": "time_pattern", "now": moment, "description": "time pattern"}},
            Context(),
        )

    status = trigger_info.get("status")
    if status is None:
        return track_moments(hub, next_after, on_moment)
    status.watching = f"hours {config['hours']}, minutes {config['minutes']}, seconds {config['seconds']}"
    return track_moments(hub, next_after, on_moment, status.scheduled("pattern"))
