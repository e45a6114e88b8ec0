"""Run a callback at every slot boundary on the hub's clock (virtual or real)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from orbiteos.core import Hub, Unsubscribe

_LOGGER = logging.getLogger(__name__)


def every_slot(hub: Hub, slot_s: float, callback: Callable[[float], None], offset_s: float = 0.0) -> Unsubscribe:
    """Call `callback(boundary_ts)` at each multiple of `slot_s` (UTC seconds) plus `offset_s`."""
    handle: list[asyncio.TimerHandle | None] = [None]

    def schedule() -> None:
        now = hub.clock.now().timestamp()
        boundary = math.floor((now - offset_s) / slot_s) * slot_s + slot_s + offset_s
        handle[0] = hub.clock.call_later(boundary - now, fire, boundary - offset_s)

    def fire(boundary: float) -> None:
        schedule()  # first: a callback that fails must not stop the ticking
        try:
            callback(boundary)
        except Exception:  # one bad round is logged, the next slot tries again
            _LOGGER.exception("slot callback %s failed", getattr(callback, "__qualname__", callback))

    schedule()

    def cancel() -> None:
        if handle[0] is not None:
            handle[0].cancel()
            handle[0] = None

    return cancel
