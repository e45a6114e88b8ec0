"""The on-disk journal: order, the batch id kept, and a damaged file set aside rather than fatal."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

from orbiteos.core import Hub
from orbiteos.integrations.recorder.queue.backlog import Backlog
from orbiteos.integrations.recorder.queue.journal import Journal
from orbiteos.integrations.recorder.rows import COLUMNS, RowBuilder

STATE = COLUMNS["states"].index("state")
SEQ = COLUMNS["states"].index("seq")


def _files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


def _hub_with_states(count: int) -> tuple[Hub, list]:
    hub = Hub()
    states: list = []
    hub.bus.listen("state_changed", lambda e: states.append(e.data["new_state"]))
    for n in range(count):
        hub.states.set("sensor.x", n)
    return hub, states


async def test_spilled_batches_replay_in_order_with_their_ids(tmp_path: Path):
    _, states = _hub_with_states(25)
    backlog = Backlog(RowBuilder(100), Journal(tmp_path), max_memory=10, batch_items=10)
    for state in states[:15]:
        backlog.append(state)
    first = await backlog.next_batch()  # built from memory, "being written" when the database goes away
    assert first is not None and first.items == 10
    for state in states[15:]:
        backlog.append(state)
    assert await backlog.spill() == 25
    assert not backlog.memory and len(backlog.journal) == 3

    reopened = Journal(tmp_path)  # as after a restart
    assert reopened.last_seq() == 124
    replay = Backlog(RowBuilder(125), reopened, max_memory=10, batch_items=10)
    seen = []
    while (batch := await replay.next_batch()) is not None:
        if not seen:
            assert batch.batch_id == first.batch_id
        seen.extend(row[STATE] for row in batch.rows_of("states"))
        replay.done(batch)
    assert seen == [str(n) for n in range(25)]
    assert not _files(tmp_path, "*.batch")


async def test_an_unreadable_segment_is_moved_aside_and_the_rest_replays(tmp_path: Path):
    _, states = _hub_with_states(4)
    journal = Journal(tmp_path)
    builder = RowBuilder(1)
    for pair in (states[:2], states[2:]):
        await journal.append(builder.build(pair))
    journal.head.write_bytes(b"not a pickle")  # type: ignore[union-attr]
    batch = await journal.read_head()
    assert batch is not None and [r[STATE] for r in batch.rows_of("states")] == ["2", "3"]
    assert len(_files(tmp_path, "*.unreadable")) == 1


async def test_a_segment_from_before_the_binary_states_rows_replays(tmp_path: Path):
    _, states = _hub_with_states(3)
    built = RowBuilder(7).build(states)
    by_name = dict(zip(COLUMNS["states"], zip(*built.rows_of("states"), strict=True), strict=True))
    old_order = ("time", "seq", "entity_id", "state", "value", "attributes", "last_changed",
                 "context_id", "context_user_id", "context_parent_id")
    # Format 1: every table, states too, column by column, in the order of that time.
    payload = (1, built.batch_id.bytes, 7, 9, {"states": [list(by_name[name]) for name in old_order]})
    (tmp_path / f"{7:020d}-{9:020d}.batch").write_bytes(pickle.dumps(payload))
    batch = await Journal(tmp_path).read_head()
    assert batch is not None and batch.batch_id == built.batch_id and batch.states.count == 3
    assert batch.rows_of("states") == built.rows_of("states")
    assert list(batch.states.groups) == ["sensor.x"] and not batch.tables


async def test_a_segment_with_the_states_rows_in_arrival_order_replays(tmp_path: Path):
    _, states = _hub_with_states(3)
    built = RowBuilder(7).build(states)
    # Format 2: the states rows encoded, in arrival order, in chunks.
    payload = (2, built.batch_id.bytes, 7, 9, {}, list(built.states.ordered()), 3)
    (tmp_path / f"{7:020d}-{9:020d}.batch").write_bytes(pickle.dumps(payload))
    batch = await Journal(tmp_path).read_head()
    assert batch is not None and batch.states.count == 3
    assert batch.rows_of("states") == built.rows_of("states")


async def test_a_build_cancelled_at_a_pause_loses_and_repeats_nothing(tmp_path: Path):
    _, states = _hub_with_states(3000)
    backlog = Backlog(RowBuilder(1), Journal(tmp_path), max_memory=10_000, batch_items=10_000)
    for state in states:
        backlog.append(state)
    building = asyncio.create_task(backlog.absorb())  # 3,000 items: several 0.15 ms slices
    await asyncio.sleep(0)  # it runs to its first pause
    building.cancel()  # as a stop that timed out does
    await asyncio.gather(building, return_exceptions=True)
    assert 0 < backlog.taken < 3000 and backlog.memory_items == 3000
    await backlog.spill(everything=True)  # the stop's fallback
    seen = []
    while (batch := await backlog.next_batch()) is not None:
        seen.extend(row[STATE] for row in sorted(batch.rows_of("states"), key=lambda r: r[SEQ]))
        backlog.done(batch)
    assert seen == [str(n) for n in range(3000)]
