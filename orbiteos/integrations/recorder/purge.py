"""Retention on plain PostgreSQL: delete rows older than `purge_keep_days` (TimescaleDB has policies)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

_LOGGER = logging.getLogger(__name__)

# Every table with a `time` column the recorder keeps rows in, and the batch receipts.
TABLES = (
    "states", "events", "automation_runs", "audit_log", "device_telemetry", "energy_flows",
    "forecasts", "energy_prices", "optimization_results", "grid_events",
)
# Rows deleted per statement, so that a purge never holds long locks.
CHUNK = 50_000


async def purge(conn: asyncpg.Connection, keep_days: int, now: datetime) -> dict[str, int]:
    """Delete rows older than `keep_days` before `now`; returns the count per table."""
    cutoff = now - timedelta(days=keep_days)
    deleted: dict[str, int] = {}
    for table in TABLES:
        total = 0
        while True:
            status = await conn.execute(
                f"DELETE FROM {table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {table} WHERE time < $1 LIMIT {CHUNK}))",
                cutoff,
            )
            count = int(status.rsplit(" ", 1)[-1])
            total += count
            if count < CHUNK:
                break
        deleted[table] = total
    status = await conn.execute("DELETE FROM recorder_batches WHERE written_at < $1", cutoff)
    deleted["recorder_batches"] = int(status.rsplit(" ", 1)[-1])
    if any(deleted.values()):
        _LOGGER.info("recorder: purged rows older than %s: %s", cutoff.isoformat(),
                     ", ".join(f"{t} {n}" for t, n in deleted.items() if n))
    return deleted


async def purge_url(url: str, keep_days: int, now: datetime) -> dict[str, int]:
    """Purge on a connection of its own, so that the writer's connection keeps writing."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await purge(conn, keep_days, now)
    finally:
        await conn.close()
