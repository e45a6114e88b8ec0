"""The recorder's work on the event loop comes in slices: other tasks run in between, and slicing
(rows built while a batch is being written, COPY fed a slice at a time) keeps every row, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from orbiteos.core import Hub
from orbiteos.integrations.recorder.slicing import pause
from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder

CHANGES = 30_000
BURST = 500
SENSORS = 7


async def test_pause_lets_what_is_ready_run_first():
    loop = asyncio.get_running_loop()
    ran: list[str] = []
    loop.call_soon(ran.append, "ready before the pause")
    await pause()
    ran.append("after the pause")
    assert ran == ["ready before the pause", "after the pause"]


async def test_a_cancelled_pause_leaves_no_error_behind():
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        waiter = asyncio.ensure_future(pause())
        waiter.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the pause's timer has fired on the cancelled future by now
    finally:
        loop.set_exception_handler(None)
    assert waiter.cancelled()
    assert errors == []


def _burst(hub: Hub, start: int) -> None:
    for n in range(start, start + BURST):
        hub.states.set(f"sensor.load_{n % SENSORS}", n, {"unit_of_measurement": "kW"})
        if n % 100 == 99:
            hub.bus.fire("slicing_marker", {"after": n})


async def test_rows_built_and_copied_in_slices_keep_order_and_lose_nothing(
    recorder_hub: RecorderHub, postgres_url: str
):
    turns = 0

    async def other_task() -> None:  # stands for the automation path: it must get turns meanwhile
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    async with asyncio.timeout(60), recorder_hub() as hub:
        recorder = running_recorder(hub)
        await recorder.flush()
        other = asyncio.create_task(other_task())
        try:
            # Bursts with a turn of the loop in between: state changes keep arriving while
            # earlier ones are turned into rows and while batches are being written.
            for start in range(0, CHANGES, BURST):
                _burst(hub, start)
                await asyncio.sleep(0)
            turns_while_producing = turns
            # A last backlog, queued all at once, then drained: the other task still gets turns.
            _burst(hub, CHANGES)
            await recorder.flush()
            turns_while_draining = turns - turns_while_producing
        finally:
            other.cancel()
        states = await fetch(postgres_url, "SELECT seq, value FROM states ORDER BY seq")
        markers = await fetch(postgres_url, "SELECT seq, (data->>'after')::int AS after FROM events "
                                            "WHERE event_type = 'slicing_marker' ORDER BY seq")

    total = CHANGES + BURST
    assert [row["value"] for row in states] == [float(n) for n in range(total)]  # all, once each, in order
    assert recorder.batches_written > 1
    seq_of = {int(row["value"]): row["seq"] for row in states}
    assert [row["after"] for row in markers] == list(range(99, total, 100))
    for row in markers:  # each event sits between the state changes it came between
        after = row["after"]
        assert seq_of[after] < row["seq"] < seq_of.get(after + 1, row["seq"] + 1)
    assert turns_while_draining > 10
