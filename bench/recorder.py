"""Recorder: sustained state rows per second into PostgreSQL, against a bare asyncpg COPY of the same rows.

Starts its own PostgreSQL (Debian's, through tests/servers/postgres.py) with the full schema.sql
applied, and measures in the same run:

- `bare_copy_rows_per_s`: asyncpg `copy_records_to_table` of the already-built `states` rows in
  10,000-row batches, nothing else: the ceiling.
- `recorder_rows_per_s`: the recorder draining a queue of N state changes (queued by
  `hub.states.set` before the clock starts): building the rows (numbers, attributes as JSON,
  sequence numbers), one transaction per batch with its receipt, COPY. The recorder's own rate.
  The updates are typical sensor updates: a new value, the same attributes (whose JSON the
  recorder reuses); `recorder_rows_per_s_changing_attributes` has new attributes on every update.
- `end_to_end_rows_per_s`: N `hub.states.set` calls on the same event loop while the recorder
  writes, until the last row is committed: the state machine's cost included.
- The automation path's latency (a state change -> a state listener -> a task calling a service ->
  its handler, the shape of an automation run), probed every 2 ms while 5,000 (and 20,000)
  state changes per second on 1,000 sensors go on in the background: without a recorder, then
  with one writing them all.

Medians over the rounds; each round's bare and recorder figures are listed too.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from orbiteos.core import Hub
from orbiteos.integrations.recorder.recorder import Recorder, RecorderSettings
from orbiteos.integrations.recorder.rows import COLUMNS, RowBuilder
from orbiteos.integrations.recorder.writer import apply_schema
from tests.servers.postgres import TestPostgres

NAME = "recorder"
SENSORS = 1000
BATCH = 10_000


_ATTRIBUTES = [{"unit_of_measurement": "kW", "device_class": "power", "friendly_name": f"Load {i}"}
               for i in range(SENSORS)]


def _set_states(hub: Hub, start: int, count: int, changing_attributes: bool = False) -> None:
    """Typical sensor updates: a new value, the same attributes (or, optionally, new attributes too)."""
    for n in range(start, start + count):
        i = n % SENSORS
        attributes = {**_ATTRIBUTES[i], "sample": n} if changing_attributes else _ATTRIBUTES[i]
        hub.states.set(f"sensor.load_{i}", n * 0.5, attributes)


async def _fresh_database(server: TestPostgres) -> str:
    url = await asyncio.to_thread(server.create_database)
    conn = await asyncpg.connect(url)
    try:
        await apply_schema(conn)
    finally:
        await conn.close()
    return url


async def _bare_copy(url: str, rows: list[tuple[Any, ...]]) -> float:
    conn = await asyncpg.connect(url)
    try:
        began = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            await conn.copy_records_to_table("states", records=rows[start:start + BATCH], columns=COLUMNS["states"])
        elapsed = time.perf_counter() - began
    finally:
        await conn.close()
    return len(rows) / elapsed


def _recorder(hub: Hub, url: str, journal_dir: Path, max_queue: int) -> Recorder:
    async def dsn() -> str:
        return url

    settings = RecorderSettings(journal_dir=journal_dir, commit_interval=0.5, max_queue=max_queue,
                                batch_items=BATCH)
    recorder = Recorder(hub, settings, dsn)
    recorder.start()
    return recorder


async def _drain(url: str, journal_dir: Path, rows: int, changing_attributes: bool = False) -> float:
    hub = Hub()
    recorder = _recorder(hub, url, journal_dir, max_queue=rows * 2)
    await recorder.flush()  # connected, schema applied
    _set_states(hub, 0, rows, changing_attributes)  # queued only: the drain task cannot run before the next await
    began = time.perf_counter()
    await recorder.flush()
    elapsed = time.perf_counter() - began
    await recorder.stop()
    assert recorder.rows_written == rows, (recorder.rows_written, rows)
    return rows / elapsed


async def _end_to_end(url: str, journal_dir: Path, rows: int) -> float:
    hub = Hub()
    recorder = _recorder(hub, url, journal_dir, max_queue=rows * 2)
    await recorder.flush()
    began = time.perf_counter()
    for start in range(0, rows, 1000):
        _set_states(hub, start, 1000)
        await asyncio.sleep(0)
    await recorder.flush()
    elapsed = time.perf_counter() - began
    await recorder.stop()
    return rows / elapsed


async def _latency(url: str | None, journal_dir: Path, seconds: float, background_rate: int) -> dict[str, float]:
    """Latency of the automation path, in ms, while `background_rate` state changes/s are written."""
    hub = Hub()
    recorder = _recorder(hub, url, journal_dir, max_queue=1_000_000) if url else None
    if recorder is not None:
        await recorder.flush()
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    latencies: list[float] = []

    def handler(call: Any) -> None:
        latencies.append(loop.time() - sent.pop(call.data["n"]))

    hub.services.register("probe", "record", handler)

    def on_probe(event: Any) -> None:  # the trigger: start a run that calls a service
        hub.create_task(hub.services.call("probe", "record", {"n": int(event.data["new_state"].state)}))

    hub.states.listen("sensor.probe", on_probe)

    async def background() -> None:
        tick, n = 0.01, 0
        next_tick = loop.time()
        while True:
            per_tick = int(background_rate * tick)
            _set_states(hub, n, per_tick)
            n += per_tick
            next_tick += tick
            await asyncio.sleep(max(0.0, next_tick - loop.time()))

    load = asyncio.create_task(background())
    end = loop.time() + seconds
    n = 0
    while loop.time() < end:
        n += 1
        sent[n] = loop.time()
        hub.states.set("sensor.probe", n)
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.05)
    load.cancel()
    await asyncio.gather(load, return_exceptions=True)
    if recorder is not None:
        await recorder.stop()
    await hub.stop()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[int(len(ms) * 0.99)], 3),
        "max_ms": round(ms[-1], 3),
        "samples": len(ms),
    }


async def run(quick: bool) -> dict[str, Any]:
    # Short rounds, bare and recorder side by side in each: on a shared machine the load changes
    # from one second to the next, and a ratio only holds between neighbours.
    rows = 30_000 if quick else 100_000
    rounds = 2 if quick else 6
    latency_seconds = 2.0 if quick else 5.0
    background_rates = (5_000,) if quick else (5_000, 20_000)
    load_before = os.getloadavg()[0]  # a shared machine: say how busy it was
    server = TestPostgres()
    work = Path(tempfile.mkdtemp(prefix="orbiteos-bench-recorder-"))
    try:
        await asyncio.to_thread(server.cluster.init)
        await asyncio.to_thread(server.start)
        # The bare COPY gets exactly the rows the recorder would build, built beforehand.
        states: list[Any] = []
        builder_hub = Hub()
        builder_hub.bus.listen("state_changed", lambda e: states.append(e.data["new_state"]))
        _set_states(builder_hub, 0, rows)
        bare_rows = RowBuilder(1).build(states).rows_of("states")
        bare, drained, changing, end_to_end = [], [], [], []
        for _ in range(rounds):
            bare.append(await _bare_copy(await _fresh_database(server), bare_rows))
            drained.append(await _drain(await _fresh_database(server), work / "j1", rows))
            changing.append(await _drain(await _fresh_database(server), work / "j1", rows, changing_attributes=True))
            end_to_end.append(await _end_to_end(await _fresh_database(server), work / "j2", rows))
        latency = {}
        for rate in background_rates:
            latency[f"background_{rate}_rows_per_s"] = {
                "without_recorder": await _latency(None, work / "j3", latency_seconds, rate),
                "with_recorder": await _latency(await _fresh_database(server), work / "j4", latency_seconds, rate),
            }
    finally:
        await asyncio.to_thread(server.destroy)
    ratios = [d / b for d, b in zip(drained, bare, strict=True)]
    return {
        "parameters": {"rows": rows, "rounds": rounds, "batch_rows": BATCH, "sensors": SENSORS,
                       "latency_seconds": latency_seconds, "probe_interval_ms": 2,
                       "indexes": "states (entity_id, time DESC) btree, (time) brin",
                       "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
        "figures": {
            "bare_copy_rows_per_s": round(statistics.median(bare)),
            "recorder_rows_per_s": round(statistics.median(drained)),
            "recorder_vs_bare": round(statistics.median(ratios), 3),
            "recorder_rows_per_s_changing_attributes": round(statistics.median(changing)),
            "end_to_end_rows_per_s": round(statistics.median(end_to_end)),
            "rounds": [{"bare": round(b), "recorder": round(d), "ratio": round(r, 3)}
                       for b, d, r in zip(bare, drained, ratios, strict=True)],
            "automation_latency": latency,
            "targets": {"recorder_rows_per_s": 150_000, "recorder_vs_bare": 0.7},
        },
    }
