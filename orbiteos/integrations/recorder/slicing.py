"""Cooperative slicing: the recorder's CPU work (rows, COPY encoding) runs in short slices on the
event loop, and each slice gives way to whatever else is ready before the next one starts."""

from __future__ import annotations

import asyncio

# At most about SLICE seconds of work between two pauses, so that a state change never waits
# behind the recorder for longer than that.
SLICE = 0.00015


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # cancelled meanwhile (a stop)
        waiter.set_result(None)


def pause() -> asyncio.Future[None]:
    """Let everything that is ready run first: an awaitable that completes on a later loop turn.

    `asyncio.sleep(0)` would put the recorder back at the head of the next turn, ahead of an
    automation run that a state change has just scheduled. A timer that is already due runs after
    the callbacks that were ready when the turn began (asyncio moves due timers to the back of
    the ready queue), and keeps the loop from sleeping.
    """
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    loop.call_at(loop.time(), _release, waiter)
    return waiter
