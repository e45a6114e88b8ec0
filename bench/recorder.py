"""Recorder: sustained state rows per second into PostgreSQL, against a bare asyncpg COPY of the same rows.

Starts its own PostgreSQL (Debian's, through tests/servers/postgres.py) with the full schema.sql
applied, and measures in the same run:

- `bare_copy_rows_per_s`: asyncpg `copy_records_to_table` of the already-built `states` rows (as
  tuples of Python values) in 10,000-row batches, in the order they happened, nothing else.
  `bare_copy_rows_per_s_in_the_recorders_order`: the same rows in the order the recorder sends
  them (each batch's rows grouped by entity, which saves PostgreSQL index work).
- `recorder_rows_per_s`: the recorder draining a queue of N state changes (queued by
  `hub.states.set` before the clock starts): building the rows (numbers, attributes as JSON,
  sequence numbers, encoded as binary COPY data), one transaction per batch with its receipt,
  COPY. The recorder's own rate. As for the bare COPY, connecting (and applying schema.sql,
  about 20 ms) happens before the clock starts.
  The updates are typical sensor updates: a new value, the same attributes (whose JSON the
  recorder reuses); `recorder_rows_per_s_changing_attributes` has new attributes on every update.
- `end_to_end_rows_per_s`: N `hub.states.set` calls on the same event loop while the recorder
  writes, until the last row is committed: the state machine's cost included.
- The automation path's latency (a state change -> a state listener -> a task calling a service ->
  its handler, the shape of an automation run), probed every 1-3 ms (at random, 2 ms on average)
  while 5,000 (and 20,000)
  state changes per second on 1,000 sensors go on in the background: without a recorder and
  with one writing them all, in alternating rounds (the machine's load drifts), percentiles over
  the pooled samples. Each probing starts after `gc.freeze()`, as `orbiteos run` does after
  start-up. Besides: the recorder's loop steps (how long its tasks held the loop, wall and CPU
  time), the garbage collector's runs, and the CPU share of this process and of PostgreSQL.

- `timescaledb`: where TimescaleDB is installed, the bare COPY and the recorder again, into the
  `states` hypertable of a server that preloads it (chunks, the same indexes, compression and
  retention policies in place but not running), alternating in each round; otherwise the reason
  it was skipped.

Medians over the rounds; each round's bare and recorder figures are listed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import operator
import os
import random
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
from orbiteos.runtime import freeze_startup_objects, thaw_startup_objects
from tests.servers.postgres import TestPostgres, timescaledb_missing

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
    await recorder.wait_connected()  # like the bare COPY's, the connection and schema.sql are not timed
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
    await recorder.wait_connected()
    began = time.perf_counter()
    for start in range(0, rows, 1000):
        _set_states(hub, start, 1000)
        await asyncio.sleep(0)
    await recorder.flush()
    elapsed = time.perf_counter() - began
    await recorder.stop()
    return rows / elapsed


class _Collections:
    """Counts the garbage collector's runs per generation, and their longest pause."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        generation = info["generation"]
        self.runs[generation] += 1
        self.longest_ms[generation] = max(self.longest_ms[generation], (time.perf_counter() - self._began) * 1000)

    def __enter__(self) -> _Collections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def figures(self) -> dict[str, Any]:
        return {"runs_by_generation": self.runs, "longest_ms": [round(x, 2) for x in self.longest_ms]}


class _CpuShare:
    """CPU used while entered, as a share of one core: this process, and the PostgreSQL server's
    processes (from /proc; a backend that exits meanwhile is not counted)."""

    def __init__(self, server: TestPostgres) -> None:
        self._postmaster_pid = server.cluster.data_dir / "postmaster.pid"
        self.hub = self.postgres = 0.0
        self._began = (0.0, 0.0)
        self._began_ticks: dict[int, int] = {}

    def _server_ticks(self) -> dict[int, int]:
        try:
            postmaster = int(self._postmaster_pid.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return {}
        ticks = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            pid = int(stat.parent.name)
            if pid == postmaster or int(fields[1]) == postmaster:  # itself, or its child
                ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks

    def __enter__(self) -> _CpuShare:
        self._began = (time.perf_counter(), time.process_time())
        self._began_ticks = self._server_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._began[0]
        self.hub += (time.process_time() - self._began[1]) / wall
        ticks = sum(now - self._began_ticks.get(pid, 0) for pid, now in self._server_ticks().items())
        self.postgres += ticks / os.sysconf("SC_CLK_TCK") / wall


class _LoopSteps:
    """Times every event-loop step (`Handle._run`) and keeps those of the recorder's own tasks.

    Wall and CPU time apart: on a shared 2-core machine a step's wall time also holds the time the
    process was preempted (by the PostgreSQL backend it has just woken, among others).
    """

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._original = asyncio.events.Handle._run

    def __enter__(self) -> _LoopSteps:
        original, wall, cpu = self._original, self.wall, self.cpu
        recorder_dir = str(Path(Recorder.__module__.replace(".", "/")).parent)

        def timed_run(handle: asyncio.Handle) -> None:
            task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
            code = getattr(task.get_coro(), "cr_code", None) if isinstance(task, asyncio.Task) else None
            if code is None or recorder_dir not in code.co_filename:
                original(handle)
                return
            began, began_cpu = time.perf_counter(), time.thread_time()
            original(handle)
            wall.append(time.perf_counter() - began)
            cpu.append(time.thread_time() - began_cpu)

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]

    def figures(self) -> dict[str, Any]:
        if not self.wall:
            return {}
        return {"steps": len(self.wall),
                "longest_wall_ms": round(max(self.wall) * 1000, 3),
                "longest_cpu_ms": round(max(self.cpu) * 1000, 3),
                "p99_cpu_ms": round(sorted(self.cpu)[int(len(self.cpu) * 0.99)] * 1000, 3),
                "cpu_over_0_3_ms": sum(1 for c in self.cpu if c > 0.0003)}


async def _probe(url: str | None, journal_dir: Path, seconds: float, background_rate: int,
                 watch: tuple[contextlib.AbstractContextManager[Any], ...] = ()) -> list[float]:
    """Latencies of the automation path, in ms, while `background_rate` state changes/s are written.

    The `watch` context managers are entered for the probing only (not the set-up or the stop).
    """
    hub = Hub()
    recorder = _recorder(hub, url, journal_dir, max_queue=1_000_000) if url else None
    if recorder is not None:
        await recorder.flush()
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    latencies: list[float] = []

    def handler(call: Any) -> None:
        latencies.append((loop.time() - sent.pop(call.data["n"])) * 1000)

    hub.services.register("probe", "record", handler)

    def on_probe(event: Any) -> None:  # the trigger: start a run that calls a service
        hub.create_task(hub.services.call("probe", "record", {"n": int(event.data["new_state"].state)}))

    hub.states.listen("sensor.probe", on_probe)
    freeze_startup_objects()  # as `orbiteos run` does once the hub has started

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
    interval = random.Random(background_rate)
    end = loop.time() + seconds
    n = 0
    with contextlib.ExitStack() as watching:
        for watcher in watch:
            watching.enter_context(watcher)
        while loop.time() < end:
            n += 1
            sent[n] = loop.time()
            hub.states.set("sensor.probe", n)
            # A random interval (mean 2 ms): a fixed one locks the probe's phase to the background
            # writer's 10 ms tick (the probe wakes right after each of its steps), and whether the
            # probes then land just before its steps, and wait for them, depends on the steps'
            # length: the p99 flipped between 0.2 and 2.5 ms from round to round with no recorder.
            await asyncio.sleep(interval.uniform(0.001, 0.003))
        await asyncio.sleep(0.05)
    load.cancel()
    await asyncio.gather(load, return_exceptions=True)
    if recorder is not None:
        await recorder.stop()
    await hub.stop()
    thaw_startup_objects()
    return latencies


def _percentiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 3), "p99_ms": round(ms[int(len(ms) * 0.99)], 3),
            "max_ms": round(ms[-1], 3), "samples": len(ms)}


async def _latency(server: TestPostgres, work: Path, seconds: float, background_rate: int,
                   rounds: int) -> dict[str, Any]:
    """Without and with the recorder, alternating in short rounds (the machine's load drifts):
    percentiles over the pooled samples, and each round's p99."""
    pooled: dict[str, list[float]] = {"without_recorder": [], "with_recorder": []}
    p99s: dict[str, list[float]] = {"without_recorder": [], "with_recorder": []}
    steps = _LoopSteps()
    collections = {label: _Collections() for label in pooled}
    cpu = {label: _CpuShare(server) for label in pooled}
    for n in range(rounds):
        order = ("without_recorder", "with_recorder") if n % 2 == 0 else ("with_recorder", "without_recorder")
        for label in order:
            url = await _fresh_database(server) if label == "with_recorder" else None
            ms = await _probe(url, work / f"latency-{n}", seconds, background_rate,
                              (steps, collections[label], cpu[label]))
            pooled[label].extend(ms)
            p99s[label].append(_percentiles(ms)["p99_ms"])
    result: dict[str, Any] = {label: {**_percentiles(ms), "p99_ms_per_round": p99s[label],
                                      "garbage_collections": collections[label].figures(),
                                      "cpu_share_of_a_core": {"hub_process": round(cpu[label].hub / rounds, 2),
                                                              "postgres": round(cpu[label].postgres / rounds, 2)}}
                              for label, ms in pooled.items()}
    result["recorder_loop_steps"] = steps.figures()
    return result


async def _timescale(rows: int, rounds: int, bare_rows: list[tuple[Any, ...]], work: Path) -> dict[str, Any]:
    """The bare COPY and the recorder into the states hypertable, alternating."""
    reason = timescaledb_missing()
    if reason is not None:
        return {"skipped": reason}
    server = TestPostgres("timescaledb")
    try:
        await asyncio.to_thread(server.cluster.init)
        await asyncio.to_thread(server.start)
        bare, drained = [], []
        for _ in range(rounds):
            bare.append(await _bare_copy(await _fresh_database(server), bare_rows))
            drained.append(await _drain(await _fresh_database(server), work / "j3", rows))
        url = await _fresh_database(server)
        conn = await asyncpg.connect(url)
        try:
            hypertable = await conn.fetchval("SELECT count(*) FROM timescaledb_information.hypertables "
                                             "WHERE hypertable_name = 'states'")
        finally:
            await conn.close()
        assert hypertable == 1
    finally:
        await asyncio.to_thread(server.destroy)
    ratios = [d / b for d, b in zip(drained, bare, strict=True)]
    return {
        "bare_copy_rows_per_s": round(statistics.median(bare)),
        "recorder_rows_per_s": round(statistics.median(drained)),
        "recorder_vs_bare": round(statistics.median(ratios), 3),
        "rounds": [{"bare": round(b), "recorder": round(d), "ratio": round(r, 3)}
                   for b, d, r in zip(bare, drained, ratios, strict=True)],
        "target_recorder_vs_bare": 0.9,
    }


async def run(quick: bool) -> dict[str, Any]:
    # Short rounds, bare and recorder side by side in each: on a shared machine the load changes
    # from one second to the next, and a ratio only holds between neighbours.
    rows = 30_000 if quick else 100_000
    rounds = 2 if quick else 6
    latency_seconds = 2.0 if quick else 3.0
    latency_rounds = 1 if quick else 4
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
        sent_rows = RowBuilder(1).build(states).rows_of("states")  # as the recorder sends them: by entity
        states.clear()  # the latency rounds below must not pay full collections of 100,000 dead States
        seq = COLUMNS["states"].index("seq")
        bare_rows = sorted(sent_rows, key=operator.itemgetter(seq))  # in the order they happened
        bare, bare_grouped, drained, changing, end_to_end = [], [], [], [], []
        for _ in range(rounds):
            bare.append(await _bare_copy(await _fresh_database(server), bare_rows))
            bare_grouped.append(await _bare_copy(await _fresh_database(server), sent_rows))
            drained.append(await _drain(await _fresh_database(server), work / "j1", rows))
            changing.append(await _drain(await _fresh_database(server), work / "j1", rows, changing_attributes=True))
            end_to_end.append(await _end_to_end(await _fresh_database(server), work / "j2", rows))
        await asyncio.to_thread(server.stop)  # not in the way of the TimescaleDB rounds
        timescale = await _timescale(rows, rounds, bare_rows, work)
        await asyncio.to_thread(server.start)
        del bare_rows, sent_rows
        gc.collect()
        latency = {f"background_{rate}_rows_per_s": await _latency(server, work, latency_seconds, rate, latency_rounds)
                   for rate in background_rates}
    finally:
        await asyncio.to_thread(server.destroy)
    ratios = [d / b for d, b in zip(drained, bare, strict=True)]
    return {
        "parameters": {"rows": rows, "rounds": rounds, "batch_rows": BATCH, "sensors": SENSORS,
                       "latency_seconds": latency_seconds, "latency_rounds": latency_rounds,
                       "probe_interval_ms": "1-3, random",
                       "indexes": "states (entity_id, time DESC) btree, (time) brin",
                       "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
        "figures": {
            "bare_copy_rows_per_s": round(statistics.median(bare)),
            "bare_copy_rows_per_s_in_the_recorders_order": round(statistics.median(bare_grouped)),
            "recorder_rows_per_s": round(statistics.median(drained)),
            "recorder_vs_bare": round(statistics.median(ratios), 3),
            "recorder_rows_per_s_changing_attributes": round(statistics.median(changing)),
            "end_to_end_rows_per_s": round(statistics.median(end_to_end)),
            "rounds": [{"bare": round(b), "bare_in_the_recorders_order": round(g), "recorder": round(d),
                        "ratio": round(r, 3)} for b, g, d, r in zip(bare, bare_grouped, drained, ratios, strict=True)],
            "automation_latency": latency,
            "timescaledb": timescale,
            "targets": {"recorder_rows_per_s": 150_000, "recorder_vs_bare": 0.7},
        },
    }
