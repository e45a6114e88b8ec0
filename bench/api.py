"""HTTP API benchmark: `GET /api/states` with 1,000 entities, and websocket fan-out to 50 clients.

    python -m bench --only api [--quick]

Server and clients share one process (one event loop, one core), so every figure is a lower
bound for the server alone. Fan-out: the hub writes state changes; every client subscribed to
`state_changed` must receive every one. Burst mode writes as fast as the clients keep up
(throughput); paced mode writes at a fixed rate and measures the time from `states.set()` to
the client's receipt (latency).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations.http import async_setup
from orbiteos.integrations.http.auth import TokenStore

NAME = "api"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def _states_rate(url: str, token: str, concurrency: int, seconds: float) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                async with session.get("/api/states") as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"GET /api/states answered {response.status}")
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker())
        elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms_p50": round(_percentile(latencies, 0.5) * 1000, 2),
        "latency_ms_p95": round(_percentile(latencies, 0.95) * 1000, 2),
    }


class FanoutClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received = 0
        self.latencies: list[float] = []

    async def read(self, expected: int) -> None:
        while self.received < expected:
            message = await self.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"websocket closed early: {message}")
            now = time.perf_counter()
            # The send time rides in the state's attributes; a string search keeps the client cheap.
            text = message.data
            at = text.find('"sent":', text.find('"new_state"'))
            if at >= 0:
                end = text.find("}", at)
                self.latencies.append(now - float(text[at + 7:end].split(",")[0]))
            self.received += 1


async def _connect(session: aiohttp.ClientSession, token: str) -> FanoutClient:
    ws = await session.ws_connect("/api/websocket")
    await ws.receive_json()
    await ws.send_json({"type": "auth", "access_token": token})
    if (await ws.receive_json())["type"] != "auth_ok":
        raise RuntimeError("websocket auth failed")
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "state_changed"})
    await ws.receive_json()
    return FanoutClient(ws)


async def _fanout(hub: Hub, url: str, token: str, clients: int, changes: int, rate_hz: float | None) -> dict[str, Any]:
    async with aiohttp.ClientSession(url) as session:
        connected = [await _connect(session, token) for _ in range(clients)]
        readers = [asyncio.create_task(c.read(changes)) for c in connected]
        began = time.perf_counter()
        for n in range(changes):
            hub.states.set("sensor.bench_fanout", str(n), {"sent": time.perf_counter()})
            if rate_hz:
                await asyncio.sleep(1 / rate_hz)
            elif n % 20 == 19:
                await asyncio.sleep(0)  # let the writers and clients drain between bursts
        async with asyncio.timeout(120):
            await asyncio.gather(*readers)
        elapsed = time.perf_counter() - began
        for client in connected:
            await client.ws.close()
    latencies = [x for c in connected for x in c.latencies]
    delivered = sum(c.received for c in connected)
    return {
        "clients": clients,
        "changes": changes,
        "delivered": delivered,
        "messages_per_s": round(delivered / elapsed, 1),
        "latency_ms_p50": round(_percentile(latencies, 0.5) * 1000, 2),
        "latency_ms_p95": round(_percentile(latencies, 0.95) * 1000, 2),
        "latency_ms_max": round(max(latencies) * 1000, 2) if latencies else None,
        "latency_ms_mean": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


def _median_round(rounds: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The round with the median `key`, plus every round's value of it."""
    ordered = sorted(rounds, key=lambda r: r[key])
    return {**ordered[len(ordered) // 2], f"{key}_rounds": [r[key] for r in rounds]}


async def run(quick: bool) -> dict[str, Any]:
    entities = 1000
    rounds = 1 if quick else 3
    seconds = 1.0 if quick else 3.0
    clients = 50
    burst_changes = 200 if quick else 1000
    paced_changes, paced_rate = (50, 50.0) if quick else (200, 50.0)
    with tempfile.TemporaryDirectory() as config_dir:
        hub = Hub(config=SiteConfig(config_dir=Path(config_dir)))
        token = TokenStore.for_config_dir(config_dir).create("bench", "viewer")
        for n in range(entities):
            hub.states.set(f"sensor.bench_{n}", str(n * 0.5),
                           {"unit_of_measurement": "kW", "friendly_name": f"Bench sensor {n}", "device_class": "power"})
        await async_setup(hub, {"server_host": "127.0.0.1", "server_port": 0})
        await hub.start()
        try:
            url = hub.data["http"].url
            states_1, states_8, burst, paced = [], [], [], []
            # Interleaved rounds, so that a burst of load elsewhere hits every figure alike.
            for _ in range(rounds):
                states_1.append(await _states_rate(url, token, 1, seconds))
                states_8.append(await _states_rate(url, token, 8, seconds))
                burst.append(await _fanout(hub, url, token, clients, burst_changes, None))
                paced.append(await _fanout(hub, url, token, clients, paced_changes, paced_rate))
        finally:
            await hub.stop()
    return {
        "parameters": {
            "entities": entities, "rounds": rounds, "seconds_per_rate": seconds, "ws_clients": clients,
            "burst_changes": burst_changes, "paced_changes": paced_changes, "paced_rate_hz": paced_rate,
            "same_process": True,
        },
        "figures": {
            "get_states_1_client": _median_round(states_1, "requests_per_s"),
            "get_states_8_clients": _median_round(states_8, "requests_per_s"),
            "ws_fanout_burst": _median_round(burst, "messages_per_s"),
            "ws_fanout_paced": _median_round(paced, "latency_ms_p50"),
        },
    }
