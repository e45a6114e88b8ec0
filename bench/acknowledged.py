"""What acknowledging a write only once it is durable costs: `POST /api/states` latency with the
recorder's group commit (database up), with the journal's fsync (database away), and with no
recorder at all (nothing to wait for).

    python -m bench --only acknowledged [--quick]

Server and clients share one process; each configuration runs `seconds` with 1 and with 16
clients posting one state after another. The database is Debian's PostgreSQL started through
tests/servers/postgres.py; "database away" points the recorder at a port nothing listens on.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import http, recorder
from orbiteos.integrations.http.auth import TokenStore
from orbiteos.integrations.recorder.embedded import free_port
from tests.servers.postgres import TestPostgres

NAME = "acknowledged"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def _post(url: str, token: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {token}"}) as session:
        deadline = time.perf_counter() + seconds

        async def client(number: int) -> None:
            value = 0
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                async with session.post(f"/api/states/sensor.bench_{number}", json={"state": value}) as answer:
                    await answer.read()
                    if answer.status >= 300:
                        raise RuntimeError(f"POST answered {answer.status}")
                latencies.append(time.perf_counter() - began)
                value += 1

        began = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - began
    return {
        "writes_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms_p50": round(_percentile(latencies, 0.5) * 1000, 2),
        "latency_ms_p99": round(_percentile(latencies, 0.99) * 1000, 2),
    }


async def _site(work: Path, db_url: str | None, seconds: float) -> dict[str, Any]:
    config_dir = Path(tempfile.mkdtemp(dir=work))
    hub = Hub(config=SiteConfig(config_dir=config_dir))
    if db_url is not None:
        await recorder.async_setup(hub, {"db_url": db_url, "journal_dir": str(config_dir / "journal")})
    await http.async_setup(hub, {"server_host": "127.0.0.1", "server_port": 0})
    await hub.start()
    try:
        await asyncio.sleep(0.5)  # connected, schema applied
        token = TokenStore.for_config_dir(config_dir).create("bench", "admin")
        url = hub.data["http"].url
        return {f"clients_{n}": await _post(url, token, n, seconds) for n in (1, 16)}
    finally:
        await hub.stop()


async def run(quick: bool) -> dict[str, Any]:
    seconds = 2.0 if quick else 5.0
    load_before = os.getloadavg()[0]
    server = TestPostgres()
    work = Path(tempfile.mkdtemp(prefix="orbiteos-bench-ack-"))
    try:
        await asyncio.to_thread(server.cluster.init)
        await asyncio.to_thread(server.start)
        database = await asyncio.to_thread(server.create_database)
        figures = {
            "no_recorder": await _site(work, None, seconds),
            "database_up_group_commit": await _site(work, database, seconds),
            "database_away_journal_fsync": await _site(
                work, f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", seconds
            ),
        }
    finally:
        await asyncio.to_thread(server.destroy)
        shutil.rmtree(work, ignore_errors=True)
    p50 = {name: statistics.mean(v["latency_ms_p50"] for v in f.values()) for name, f in figures.items()}
    return {
        "parameters": {
            "seconds": seconds,
            "clients": [1, 16],
            "filesystem": "journal on the work directory's disk",
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "figures": {**figures, "mean_p50_ms": {k: round(v, 2) for k, v in p50.items()}},
    }
