"""docs/recorder.md: its YAML example is a valid recorder block, its SQL examples run."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import yaml

from orbiteos.integrations.recorder import CONFIG_SCHEMA
from orbiteos.integrations.recorder.writer import apply_schema

DOC = (Path(__file__).parents[3] / "docs" / "recorder.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_the_yaml_example_is_a_valid_recorder_block():
    (example,) = _blocks("yaml")
    config = CONFIG_SCHEMA(yaml.safe_load(example)["recorder"])
    assert config["db_url"].startswith("postgresql://")
    assert config["exclude"]["event_types"] == ["service_registered"]


async def test_every_sql_example_runs_on_both_kinds_of_server(postgres_url: str):
    queries = _blocks("sql")
    assert len(queries) >= 8
    now = datetime.now(UTC)
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(postgres_url)
        try:
            await apply_schema(conn)
            for minutes in range(0, 120, 7):
                time = now - timedelta(minutes=minutes)
                await conn.execute("INSERT INTO device_telemetry (time, device_id, nature, available, power_kw, soc, "
                                   "import_kwh) VALUES ($1, 'meter.grid', 'meter', true, 5, NULL, $2), "
                                   "($1, 'battery.main', 'battery', true, -3, 50, NULL)", time, 1000.0 + minutes)
                await conn.execute("INSERT INTO energy_flows VALUES ($1, 'meter.grid', 'grid_import', 5), "
                                   "($1, 'pv.roof', 'pv', 20)", time)
                await conn.execute("INSERT INTO energy_prices VALUES ($1, 'sensor.epex_price', 0.25, 'EUR/kWh')", time)
            for query in queries:
                # Grafana's time-range macro, as Grafana expands it.
                sql = re.sub(r"\$__timeFilter\(([^)]+)\)", r"\1 > now() - INTERVAL '1 day'", query)
                await conn.fetch(sql)
            kwh = await conn.fetch(re.sub(r"\$__timeFilter\(([^)]+)\)", "true", queries[1]))
        finally:
            await conn.close()
    assert {r["flow"] for r in kwh} == {"grid_import", "pv"}
