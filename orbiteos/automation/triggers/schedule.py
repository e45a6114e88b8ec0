"""Wall-clock timers in the site's time zone, re-armed after each firing (time, time_pattern, cron)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from orbiteos.core import Hub, Unsubscribe

NextMoment = Callable[[datetime], datetime | None]


def track_moments(
    hub: Hub,
    next_after: NextMoment,
    on_moment: Callable[[datetime], None],
    on_scheduled: Callable[[datetime | None], None] | None = None,
) -> Unsubscribe:
    """Call `on_moment(moment)` at each moment `next_after` yields; the next is computed from the last.

    Computing from the moment itself (not from `now`) keeps a timer that the loop runs a little
    early from firing twice for the same moment. `on_scheduled(moment)` hears of each moment
    planned (None: no more), for `explain`.
    """
    handle: asyncio.TimerHandle | None = None
    stopped = False

    def schedule(after: datetime) -> None:
        nonlocal handle
        moment = next_after(after)
        if on_scheduled is not None and not stopped:
            on_scheduled(moment)
        if moment is None or stopped:
            handle = None
            return
        handle = hub.clock.call_at(moment, due, moment)

    def due(moment: datetime) -> None:
        schedule(moment)
        on_moment(moment)

    def cancel() -> None:
        nonlocal stopped
        stopped = True
        if handle is not None:
            handle.cancel()

    schedule(hub.now_local())
    return cancel


def next_time_of_day(hub: Hub, at: tuple[int, int, int]) -> NextMoment:
    """The next local moment with this hour, minute and second, strictly after `after`."""

    def next_after(after: datetime) -> datetime:
        local = after.astimezone(hub.config.tzinfo)
        hour, minute, second = at
        for day in range(3):
            day_date = (local + timedelta(days=day)).date()
            moment = datetime(day_date.year, day_date.month, day_date.day, hour, minute, second,
                              tzinfo=hub.config.tzinfo)
            if moment > local:
                return moment
        raise AssertionError("unreachable: a time of day recurs within two days")

    return next_after
