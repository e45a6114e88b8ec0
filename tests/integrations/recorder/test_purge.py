"""Retention: rows older than purge_keep_days are deleted, newer ones stay (plain PostgreSQL: the
recorder's purge; TimescaleDB: the retention policy, run here by hand as its job would)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from orbiteos.integrations.recorder.purge import purge
from orbiteos.integrations.recorder.writer import apply_schema
from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


async def test_purge_deletes_rows_older_than_the_kept_days_in_every_table(postgres_url: str):
    old, recent = NOW - timedelta(days=11), NOW - timedelta(days=9)
    async with asyncio.timeout(30):
        conn = await asyncpg.connect(postgres_url)
        try:
            await apply_schema(conn)
            for time in (old, recent):
                await conn.execute("INSERT INTO states (time, seq, entity_id, state) VALUES ($1, 1, 'sensor.a', '1')",
                                   time)
                await conn.execute("INSERT INTO energy_flows VALUES ($1, 'pv.roof', 'pv', 1.0)", time)
                await conn.execute("INSERT INTO grid_events (time, kind) VALUES ($1, 'dip')", time)
                await conn.execute("INSERT INTO audit_log (time, seq, domain, service) VALUES ($1, 1, 'a', 'b')",
                                   time)
            deleted = await purge(conn, keep_days=10, now=NOW)
        finally:
            await conn.close()
    assert {t: n for t, n in deleted.items() if n} == {"states": 1, "energy_flows": 1, "grid_events": 1,
                                                       "audit_log": 1}
    rows = await fetch(postgres_url, "SELECT time FROM states UNION ALL SELECT time FROM energy_flows")
    assert {r["time"] for r in rows} == {recent}


async def test_the_recorder_purges_old_rows_once_connected(
    recorder_hub: RecorderHub, postgres_url: str, postgres_kind: str
):
    now = datetime.now(UTC)
    async with asyncio.timeout(30):
        conn = await asyncpg.connect(postgres_url)
        try:
            await apply_schema(conn)
            for days in (25, 2):  # TimescaleDB drops whole chunks (7 days each) past the limit
                await conn.execute("INSERT INTO states (time, seq, entity_id, state) VALUES ($1, 1, 'sensor.a', $2)",
                                   now - timedelta(days=days), str(days))
        finally:
            await conn.close()
        async with recorder_hub(purge_keep_days=10) as hub:
            if postgres_kind == "timescaledb":
                await running_recorder(hub).wait_connected()
                (job,) = await fetch(postgres_url,
                                     "SELECT job_id, config->>'drop_after' AS keep FROM timescaledb_information.jobs "
                                     "WHERE proc_name = 'policy_retention' AND hypertable_name = 'states'")
                assert job["keep"] == "10 days"
                conn = await asyncpg.connect(postgres_url)
                try:
                    await conn.execute(f"CALL run_job({job['job_id']})")
                finally:
                    await conn.close()
            for _ in range(250):  # the purge runs on its own connection: look until it is done
                if not await fetch(postgres_url, "SELECT 1 FROM states WHERE state = '25'"):
                    break
                await asyncio.sleep(0.1)
        rows = await fetch(postgres_url, "SELECT state FROM states WHERE entity_id = 'sensor.a'")
    assert [r["state"] for r in rows] == ["2"]
