"""schema.sql: safe to run twice, the same tables and rollups on plain PostgreSQL and TimescaleDB."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from orbiteos.integrations.recorder import writer
from orbiteos.integrations.recorder.embedded import TIMESCALEDB
from orbiteos.integrations.recorder.writer import SCHEMA_FILE, apply_schema
from tests.integrations.recorder.conftest import fetch
from tests.servers.postgres import TestPostgres, timescaledb_missing

REPO_SCHEMA = Path(__file__).parents[3] / "schema.sql"
TABLES = {"states", "events", "automation_runs", "audit_log", "device_telemetry", "energy_flows", "forecasts",
          "energy_prices", "optimization_results", "grid_events", "recorder_batches"}
ROLLUPS = {f"{table}_{width}" for table in ("device_telemetry", "energy_flows") for width in ("5m", "1h", "1d")}
SAMPLES = {f"{rollup}_samples" for rollup in ROLLUPS}


def test_the_package_reads_the_repository_schema():
    assert SCHEMA_FILE.resolve() == REPO_SCHEMA.resolve()


def test_psql_runs_the_schema_twice_without_error(postgres_url: str):
    for _ in range(2):
        result = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", postgres_url, "-f", str(REPO_SCHEMA)],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr


async def test_applying_the_schema_twice_keeps_the_rows_and_makes_every_table(postgres_url: str, postgres_kind: str):
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(postgres_url)
        try:
            assert await apply_schema(conn) is (postgres_kind == TIMESCALEDB)
            await conn.execute("INSERT INTO energy_flows VALUES ($1, 'meter.grid', 'grid_import', 10.0)",
                               datetime(2026, 6, 1, 12, 1, tzinfo=UTC))
            await apply_schema(conn)
            tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables "
                                                                "WHERE schemaname = 'public'")}
            views = {r["viewname"] for r in await conn.fetch("SELECT viewname FROM pg_views "
                                                              "WHERE schemaname = 'public'")}
        finally:
            await conn.close()
    assert tables >= TABLES
    assert views >= ROLLUPS | SAMPLES  # a continuous aggregate is a view too
    rows = await fetch(postgres_url, "SELECT count(*) AS n FROM energy_flows")
    assert rows[0]["n"] == 1


async def test_on_timescaledb_every_table_is_a_hypertable_with_its_aggregates_and_jobs(timescale_server: TestPostgres):
    url = timescale_server.create_database()
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(url)
        try:
            await apply_schema(conn, {"orbiteos.raw_retention": "30 days"})
            hypertables = {r["hypertable_name"]: r["compression_enabled"] for r in await conn.fetch(
                "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables "
                "WHERE hypertable_schema = 'public'")}
            aggregates = {r["view_name"]: r["materialized_only"] for r in await conn.fetch(
                "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates")}
            jobs = {(r["proc_name"], r["name"]): r["config"] for r in await conn.fetch(
                "SELECT j.proc_name, COALESCE(c.view_name, j.hypertable_name) AS name, j.config::text AS config "
                "FROM timescaledb_information.jobs j LEFT JOIN timescaledb_information.continuous_aggregates c "
                "ON c.materialization_hypertable_name = j.hypertable_name "
                "WHERE j.proc_schema = '_timescaledb_functions' AND j.proc_name LIKE 'policy_%'")}
        finally:
            await conn.close()
    assert hypertables == dict.fromkeys(TABLES - {"recorder_batches"}, True)
    assert aggregates == dict.fromkeys(SAMPLES, False)  # real-time aggregation
    for table in TABLES - {"recorder_batches"}:
        assert ("policy_compression", table) in jobs
        assert '"30 days"' in jobs[("policy_retention", table)]
    for view in SAMPLES:
        assert ("policy_refresh_continuous_aggregate", view) in jobs
        assert ("policy_retention", view) in jobs


async def test_installed_but_not_preloaded_falls_back_to_plain_with_one_clear_warning(postgres_server: TestPostgres):
    reason = timescaledb_missing()
    if reason is not None:
        pytest.skip(reason)
    url = postgres_server.create_database()  # the plain server: shared_preload_libraries is empty
    warnings: list[str] = []
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(url)
        try:
            assert await apply_schema(conn, on_warning=warnings.append) is False
            tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await conn.close()
    assert tables == len(TABLES)
    assert len(warnings) == 1, warnings
    assert "installed but not preloaded" in warnings[0]
    assert "shared_preload_libraries = 'timescaledb'" in warnings[0]


async def test_timescaledb_on_where_it_cannot_be_used_is_an_error_that_says_why(postgres_server: TestPostgres):
    url = postgres_server.create_database()  # plain: TimescaleDB either absent or not preloaded
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(url)
        try:
            with pytest.raises(asyncpg.RaiseError, match="timescaledb is (required|installed but not preloaded)"):
                await apply_schema(conn, {"orbiteos.timescaledb": "on"})
        finally:
            await conn.close()


async def test_timescaledb_off_keeps_plain_tables_on_a_server_that_preloads_it(timescale_server: TestPostgres):
    url = timescale_server.create_database()
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(url)
        try:
            assert await apply_schema(conn, {"orbiteos.timescaledb": "off"}) is False
        finally:
            await conn.close()


async def test_plain_tables_with_rows_become_hypertables_when_timescaledb_appears(timescale_server: TestPostgres):
    url = timescale_server.create_database()
    times = [datetime(2026, 6, 1, 12, minute, tzinfo=UTC) for minute in (0, 2, 7)]
    async with asyncio.timeout(90):
        conn = await asyncpg.connect(url)
        try:
            await apply_schema(conn, {"orbiteos.timescaledb": "off"})  # as on a server without it
            await conn.executemany("INSERT INTO energy_flows VALUES ($1, 'pv.roof', 'pv', 10.0)", [(t,) for t in times])
            await conn.executemany("INSERT INTO states (time, seq, entity_id, state) VALUES ($1, 1, 'sensor.a', '1')",
                                   [(t,) for t in times])
            before = await conn.fetch("SELECT bucket, energy_kwh FROM energy_flows_5m ORDER BY bucket")
            assert await apply_schema(conn, {"orbiteos.timescaledb": "auto"}) is True  # TimescaleDB is there now
            after = await conn.fetch("SELECT bucket, energy_kwh FROM energy_flows_5m ORDER BY bucket")
            hypertables = await conn.fetchval("SELECT count(*) FROM timescaledb_information.hypertables")
            states = await conn.fetchval("SELECT count(*) FROM states")
            # The rows moved into chunks: none left in the parent table.
            in_parent = await conn.fetchval("SELECT count(*) FROM ONLY energy_flows")
        finally:
            await conn.close()
    assert hypertables == len(TABLES) - 1
    assert states == 3
    assert in_parent == 0
    assert [tuple(r) for r in after] == [tuple(r) for r in before]


async def test_a_database_using_timescaledb_on_a_server_that_stopped_preloading_it_is_refused(tmp_path: Path):
    reason = timescaledb_missing()
    if reason is not None:
        pytest.skip(reason)
    server = TestPostgres(TIMESCALEDB)
    try:
        await asyncio.to_thread(server.cluster.init)
        await asyncio.to_thread(server.start)
        url = await asyncio.to_thread(server.create_database)
        conn = await asyncpg.connect(url)
        try:
            assert await apply_schema(conn) is True
        finally:
            await conn.close()
        await asyncio.to_thread(server.stop)
        server.cluster.preload = ()
        await asyncio.to_thread(server.start)
        conn = await asyncpg.connect(url)
        try:
            # Rows would land in the hypertables' empty parents: refused, with the remedy.
            with pytest.raises(asyncpg.RaiseError, match="does not preload it; add it to shared_preload_libraries"):
                await apply_schema(conn)
            assert await conn.fetchval("SELECT 1") == 1  # an error, not the end of the connection
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(server.destroy)


async def test_the_not_preloaded_warning_is_logged_once_however_often_the_schema_is_applied(
    postgres_server: TestPostgres, caplog: pytest.LogCaptureFixture
):
    reason = timescaledb_missing()
    if reason is not None:
        pytest.skip(reason)
    writer._warned.clear()  # a process-wide memory: start afresh
    caplog.set_level(logging.WARNING, logger="orbiteos.integrations.recorder.writer")
    url = postgres_server.create_database()
    async with asyncio.timeout(60):
        for _ in range(3):  # as at three reconnects
            conn = await asyncpg.connect(url)
            try:
                await apply_schema(conn)
            finally:
                await conn.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "installed but not preloaded" in messages[0]
