"""schema.sql: safe to run twice, the same tables and rollups on plain PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from orbiteos.integrations.recorder.writer import SCHEMA_FILE, apply_schema
from tests.integrations.recorder.conftest import fetch

REPO_SCHEMA = Path(__file__).parents[3] / "schema.sql"
TABLES = {"states", "events", "automation_runs", "audit_log", "device_telemetry", "energy_flows", "forecasts",
          "energy_prices", "optimization_results", "grid_events", "recorder_batches"}
ROLLUPS = {f"{table}_{width}" for table in ("device_telemetry", "energy_flows") for width in ("5m", "1h", "1d")}


def test_the_package_reads_the_repository_schema():
    assert SCHEMA_FILE.resolve() == REPO_SCHEMA.resolve()


def test_psql_runs_the_schema_twice_without_error(postgres_url: str):
    for _ in range(2):
        result = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", postgres_url, "-f", str(REPO_SCHEMA)],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr


async def test_applying_the_schema_twice_keeps_the_rows_and_makes_every_table(postgres_url: str):
    async with asyncio.timeout(30):
        conn = await asyncpg.connect(postgres_url)
        try:
            assert await apply_schema(conn) is False  # no TimescaleDB here
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
    assert views >= ROLLUPS
    rows = await fetch(postgres_url, "SELECT count(*) AS n FROM energy_flows")
    assert rows[0]["n"] == 1


async def test_rollup_views_bucket_power_and_estimate_energy(postgres_url: str):
    async with asyncio.timeout(30):
        conn = await asyncpg.connect(postgres_url)
        try:
            await apply_schema(conn)
            for minute, power in ((0, 10.0), (2, 20.0), (7, 40.0)):
                await conn.execute("INSERT INTO energy_flows VALUES ($1, 'pv.roof', 'pv', $2)",
                                   datetime(2026, 6, 1, 12, minute, tzinfo=UTC), power)
            five = await conn.fetch("SELECT bucket, power_kw_avg, samples FROM energy_flows_5m ORDER BY bucket")
            hour = await conn.fetchrow("SELECT power_kw_avg, energy_kwh_estimate FROM energy_flows_1h")
        finally:
            await conn.close()
    assert [(r["bucket"].minute, r["power_kw_avg"], r["samples"]) for r in five] == [(0, 15.0, 2), (5, 40.0, 1)]
    assert round(hour["power_kw_avg"], 6) == round(70 / 3, 6)
    assert round(hour["energy_kwh_estimate"], 6) == round(70 / 3, 6)
