"""Nothing lost: a database outage under load, a clean stop, a stop while the database is away,
and a batch replayed after its commit was in fact done."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from orbiteos.core import Context, Event, Hub, SiteConfig
from orbiteos.integrations import recorder as recorder_integration
from orbiteos.integrations.recorder.copy_binary import STATES_TYPES, EncodedRows
from orbiteos.integrations.recorder.queue.journal import Journal
from orbiteos.integrations.recorder.rows import COLUMNS, STATES_ENTITY_ID, Batch, RowBuilder
from orbiteos.integrations.recorder.writer import Writer
from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder
from tests.servers.postgres import TestPostgres

# The test is a 30 s outage; the default run uses a shorter one to keep the suite fast.
# ORBITEOS_OUTAGE_SECONDS=30 .venv/bin/pytest tests/integrations/recorder -k outage
OUTAGE_SECONDS = float(os.environ.get("ORBITEOS_OUTAGE_SECONDS", "3"))
RATE = 2000  # state changes per second
TICK = 0.01


async def _produce(hub: Hub, stop: asyncio.Event, produced: list[int]) -> None:
    """RATE state changes a second on 50 sensors, each change with its own number as the state."""
    loop = asyncio.get_running_loop()
    per_tick = int(RATE * TICK)
    next_tick = loop.time()
    n = 0
    while not stop.is_set():
        for _ in range(per_tick):
            hub.states.set(f"sensor.load_{n % 50}", n, {"unit_of_measurement": "kW", "n": n})
            n += 1
        produced[0] = n
        next_tick += TICK
        await asyncio.sleep(max(0.0, next_tick - loop.time()))


async def test_outage_under_load_loses_nothing_and_duplicates_nothing(
    recorder_hub: RecorderHub, postgres_url: str, postgres: TestPostgres, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="orbiteos.integrations.recorder")
    produced = [0]
    stop = asyncio.Event()
    async with asyncio.timeout(OUTAGE_SECONDS * 3 + 90), recorder_hub(max_queue=1000) as hub:
        recorder = running_recorder(hub)
        recorder.settings.retry_max = 1.0
        producer = asyncio.create_task(_produce(hub, stop, produced))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(postgres.stop, "fast")
        await asyncio.sleep(OUTAGE_SECONDS)
        during_outage = produced[0]
        journaled = len(recorder.backlog.journal)
        await asyncio.to_thread(postgres.start)
        await asyncio.sleep(1.0)
        stop.set()
        await producer
        await recorder.flush()
        rows = await fetch(postgres_url, "SELECT count(*) AS n, count(DISTINCT value) AS distinct_values, "
                                         "count(DISTINCT seq) AS distinct_seq, min(value) AS lo, max(value) AS hi "
                                         "FROM states")
        in_order = await fetch(postgres_url, "SELECT bool_and(ordered) AS ok FROM (SELECT value > lag(value) "
                                             "OVER (ORDER BY seq) OR lag(value) OVER (ORDER BY seq) IS NULL "
                                             "AS ordered FROM states) t")

    total = produced[0]
    print(f"outage of {OUTAGE_SECONDS:.0f} s: {total} state changes, {during_outage} by the restart, "
          f"{journaled} journal batches at the restart")
    assert during_outage > RATE * OUTAGE_SECONDS * 0.5  # the flow went on while the database was away
    assert journaled > 0  # memory was bounded: rows went to the journal
    assert dict(rows[0]) == {"n": total, "distinct_values": total, "distinct_seq": total, "lo": 0, "hi": total - 1}
    assert in_order[0]["ok"] is True
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("orbiteos.integrations.recorder")]
    assert sum("database unavailable" in m for m in messages) == 1
    assert sum("database back" in m for m in messages) == 1
    assert recorder.backlog.empty and len(recorder.backlog.journal) == 0


async def test_a_clean_stop_flushes_the_queue(postgres_url: str, tmp_path: Path):
    hub = Hub(config=SiteConfig(config_dir=tmp_path))
    async with asyncio.timeout(30):
        # A long commit interval: without the stop's flush nothing would have been written yet.
        await recorder_integration.async_setup(hub, {"db_url": postgres_url, "commit_interval": 3600})
        await hub.start()
        await asyncio.sleep(0.3)  # connected, schema applied, now waiting for the interval
        for n in range(5000):
            hub.states.set(f"sensor.s{n % 10}", n)
        await hub.stop()
        rows = await fetch(postgres_url, "SELECT count(*) AS n FROM states")
    assert rows[0]["n"] == 5000


async def test_a_stop_while_the_database_is_away_journals_and_the_next_start_replays(
    postgres_url: str, postgres: TestPostgres, tmp_path: Path
):
    async with asyncio.timeout(60):
        hub = Hub(config=SiteConfig(config_dir=tmp_path))
        await recorder_integration.async_setup(hub, {"db_url": postgres_url, "commit_interval": 0.05})
        await hub.start()
        hub.states.set("sensor.before", 1)
        await running_recorder(hub).flush()
        await asyncio.to_thread(postgres.stop, "fast")
        try:
            for n in range(300):
                hub.states.set("sensor.during", n)
            await hub.stop()
        finally:
            await asyncio.to_thread(postgres.start)
        journal = tmp_path / ".storage" / "recorder-journal"
        assert any(journal.glob("*.batch"))

        hub = Hub(config=SiteConfig(config_dir=tmp_path))
        await recorder_integration.async_setup(hub, {"db_url": postgres_url, "commit_interval": 0.05})
        await hub.start()
        hub.states.set("sensor.after", 1)
        await running_recorder(hub).flush()
        await hub.stop()
        rows = await fetch(postgres_url, "SELECT entity_id, count(*) AS n, min(seq) AS first, max(seq) AS last "
                                         "FROM states GROUP BY entity_id ORDER BY min(seq)")
    assert [(r["entity_id"], r["n"]) for r in rows] == [("sensor.before", 1), ("sensor.during", 300),
                                                        ("sensor.after", 1)]
    assert not any(journal.glob("*.batch"))


async def test_a_batch_written_again_after_a_lost_answer_is_skipped(postgres_url: str):
    hub = Hub()
    writer = Writer(dsn=lambda: asyncio.sleep(0, postgres_url))
    async with asyncio.timeout(30):
        await writer.connect()
        hub.states.set("sensor.x", 1)
        hub.states.set("sensor.x", 2)
        batch = RowBuilder(1).build(hub.states.all())
        assert await writer.write(batch) is True
        assert await writer.write(batch) is False  # the replay of a committed batch
        await writer.close()
        rows = await fetch(postgres_url, "SELECT count(*) AS n FROM states")
    assert rows[0]["n"] == 1  # hub.states.all() holds the latest state only


async def test_rows_arriving_during_an_outage_do_not_hurry_the_reconnect_attempts(
    recorder_hub: RecorderHub, postgres: TestPostgres
):
    async with asyncio.timeout(60), recorder_hub() as hub:
        recorder = running_recorder(hub)
        recorder.settings.batch_items = 10  # every few rows is "a full batch"
        await recorder.flush()
        attempts = 0
        connect = recorder.writer.connect

        async def counting_connect() -> None:
            nonlocal attempts
            attempts += 1
            await connect()

        recorder.writer.connect = counting_connect  # type: ignore[method-assign]
        await asyncio.to_thread(postgres.stop, "fast")
        try:
            for n in range(200):  # 2 s of rows, each tick waking the drain task
                hub.states.set("sensor.x", n)
                await asyncio.sleep(0.01)
        finally:
            await asyncio.to_thread(postgres.start)
    # Backing off from 0.2 s doubling to 5 s: a handful of attempts in 2 s, not one per row.
    assert 1 <= attempts <= 10


def _refused_by_the_server(hub: Hub) -> Batch:
    poisoned = RowBuilder(1).build(hub.states.all())
    row = list(poisoned.rows_of("states")[0])
    row[COLUMNS["states"].index("attributes")] = "{not json"
    poisoned.states = EncodedRows(STATES_TYPES, STATES_ENTITY_ID)
    poisoned.states.add(row)
    return poisoned


def _refused_by_asyncpg(hub: Hub) -> Batch:
    event = Event("site_mode_changed", {"mode": "eco"}, hub.clock.now(), Context())
    poisoned = RowBuilder(1).build([*hub.states.all(), event])
    poisoned.tables["events"][0][0] = "not a time"  # the `time` column
    return poisoned


@pytest.mark.parametrize("poison", [_refused_by_the_server, _refused_by_asyncpg])
async def test_a_batch_the_database_refuses_is_set_aside_and_the_rest_goes_on(
    postgres_url: str, tmp_path: Path, poison: Callable[[Hub], Batch]
):
    journal_dir = tmp_path / ".storage" / "recorder-journal"
    hub = Hub(config=SiteConfig(config_dir=tmp_path))
    hub.states.set("sensor.bad", 1)
    await Journal(journal_dir).append(poison(hub))
    async with asyncio.timeout(30):
        await recorder_integration.async_setup(hub, {"db_url": postgres_url, "commit_interval": 0.05})
        await hub.start()
        hub.states.set("sensor.good", 2)
        await running_recorder(hub).flush()
        await hub.stop()
        rows = await fetch(postgres_url, "SELECT entity_id FROM states")
    assert [r["entity_id"] for r in rows] == ["sensor.good"]
    assert len(_files(journal_dir, "rejected-*.pickle")) == 1
    assert not _files(journal_dir, "*.batch")


def _files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))
