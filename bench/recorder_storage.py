"""Recorder storage: bytes a day of the demo site costs, raw and after TimescaleDB's compression.

Simulates a day of config.example (its devices at their 1 s step and its automations; `--quick`
uses 10 s steps), records it with the recorder into a fresh database on a server that preloads
TimescaleDB (plain PostgreSQL where TimescaleDB is not installed: then there is no compressed
figure), and reports per table the rows and the bytes (table, indexes and TOAST), before and
after compressing every chunk, plus the rollups' materialised bytes after a refresh and the
automation traces' bytes per run. Targets (issue 18): at most 100 MB raw and 15 MB compressed
for the day.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from orbiteos.integrations.recorder.purge import TABLES
from tests.integrations.recorder.demo_day import demo_events, record
from tests.servers.postgres import TestPostgres, timescaledb_missing

NAME = "recorder_storage"
MB = 1024 * 1024


async def _sizes(conn: asyncpg.Connection, timescale: bool) -> dict[str, int]:
    size = "hypertable_size" if timescale else "pg_total_relation_size"
    return {table: int(await conn.fetchval(f"SELECT {size}('{table}'::regclass)") or 0) for table in TABLES}


async def _measure(url: str, timescale: bool) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        rows = {table: int(await conn.fetchval(f"SELECT count(*) FROM {table}")) for table in TABLES}
        raw = await _sizes(conn, timescale)
        runs = await conn.fetchrow(
            "SELECT count(*) AS runs, avg(pg_column_size(trace)) AS bytes, "
            "count(*) FILTER (WHERE trace ? 'did_nothing') AS short FROM automation_runs"
        )
        figures: dict[str, Any] = {
            "rows": rows,
            "raw_bytes": raw,
            "raw_mb": round(sum(raw.values()) / MB, 1),
            "automation_runs": runs["runs"],
            "automation_runs_short_form": runs["short"],
            "trace_bytes_per_run": round(float(runs["bytes"] or 0)),
        }
        if timescale:
            began = time.perf_counter()
            for table in TABLES:
                await conn.execute(f"SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('{table}') c")
            figures["compress_seconds"] = round(time.perf_counter() - began, 1)
            compressed = await _sizes(conn, timescale)
            figures["compressed_bytes"] = compressed
            figures["compressed_mb"] = round(sum(compressed.values()) / MB, 1)
            figures["compression_ratio"] = round(sum(raw.values()) / max(1, sum(compressed.values())), 1)
            caggs = [
                r["view_name"]
                for r in await conn.fetch("SELECT view_name FROM timescaledb_information.continuous_aggregates")
            ]
            for view in caggs:
                await conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
            rollups = await conn.fetchval(
                "SELECT sum(hypertable_size(format('%I.%I', materialization_hypertable_schema, "
                "materialization_hypertable_name)::regclass)) FROM timescaledb_information.continuous_aggregates"
            )
            figures["rollups_mb"] = round(int(rollups or 0) / MB, 1)
        return figures
    finally:
        await conn.close()


async def run(quick: bool) -> dict[str, Any]:
    step = 10.0 if quick else 1.0
    reason = timescaledb_missing()
    server = TestPostgres("plain" if reason else "timescaledb")
    work = Path(tempfile.mkdtemp(prefix="orbiteos-bench-storage-"))
    try:
        await asyncio.to_thread(server.cluster.init)
        await asyncio.to_thread(server.start)
        url = await asyncio.to_thread(server.create_database)
        began = time.perf_counter()
        written = await record(url, work, demo_events(step=step, duration=timedelta(days=1)))
        record_seconds = time.perf_counter() - began
        figures = await _measure(url, timescale=reason is None)
    finally:
        await asyncio.to_thread(server.destroy)
    return {
        "parameters": {
            "site": "config.example",
            "sim_step_s": step,
            "duration": "1 day",
            "server": "plain PostgreSQL" if reason else "TimescaleDB",
            "why_plain": reason,
        },
        "figures": {
            "rows_written": written,
            "simulate_and_record_seconds": round(record_seconds, 1),
            **figures,
            "targets": {"raw_mb": 100, "compressed_mb": 15},
        },
    }
