"""Load generator for bench/ocpp.py: N OCPP 1.6J charge points on raw aiohttp websockets, in their own process.

Each charge point connects, boots, waits until all have booted, then every `interval` seconds sends
a Heartbeat and a MeterValues (one outstanding call at a time, as OCPP requires), starting at a
random offset so the load is spread evenly. It measures call-to-result latency on its own clock
and prints one JSON object. Raw frames keep the generator cheap, so the latency is the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from typing import Any

import aiohttp


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class LoadChargePoint:
    def __init__(self, charge_point_id: str) -> None:
        self.id = charge_point_id
        self.counter = 0
        self.waiting: asyncio.Future[list[Any]] | None = None

    async def call(self, ws: aiohttp.ClientWebSocketResponse, action: str, payload: dict[str, Any]) -> float:
        self.counter += 1
        unique_id = f"{self.id}-{self.counter}"
        self.waiting = asyncio.get_running_loop().create_future()
        began = time.perf_counter()
        await ws.send_str(json.dumps([2, unique_id, action, payload], separators=(",", ":")))
        async with asyncio.timeout(30):
            reply = await self.waiting
        elapsed = time.perf_counter() - began
        if reply[0] != 3 or reply[1] != unique_id:
            raise RuntimeError(f"{self.id}: {action} answered {reply}")
        return elapsed

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT and self.waiting is not None and not self.waiting.done():
                self.waiting.set_result(json.loads(msg.data))


def _meter_values(energy_wh: float) -> dict[str, Any]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sampled = [
        {"value": f"{energy_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "11040", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "16.0", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "16.0", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
        {"value": "16.0", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
        {"value": f"{random.randint(20, 90)}", "measurand": "SoC", "unit": "Percent", "location": "EV"},
    ]
    return {"connectorId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": sampled}]}


async def run_load(url: str, count: int, interval: float, duration: float, connect_parallel: int) -> dict[str, Any]:
    latencies: list[float] = []
    boot_latencies: list[float] = []
    errors: list[str] = []
    arrived = 0  # charge points that booted or failed trying
    all_booted = asyncio.Event()
    stop_at: list[float] = []
    gate = asyncio.Semaphore(connect_parallel)
    connector = aiohttp.TCPConnector(limit=0)

    def arrive() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == count:
            stop_at.append(time.perf_counter() + duration)
            all_booted.set()

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        cp = LoadChargePoint(f"bench{index:05d}")
        booted = False
        try:
            async with gate:
                ws = await session.ws_connect(f"{url}/{cp.id}", protocols=("ocpp1.6",), heartbeat=None)
            reader = asyncio.create_task(cp.read(ws))
            boot_latencies.append(await cp.call(ws, "BootNotification",
                                                {"chargePointVendor": "bench", "chargePointModel": "load"}))
            booted = True
            arrive()
            await all_booted.wait()
            await asyncio.sleep(random.uniform(0, interval))
            energy = 0.0
            while time.perf_counter() < stop_at[0]:
                tick = time.perf_counter()
                latencies.append(await cp.call(ws, "Heartbeat", {}))
                energy += 11040 * interval / 3600
                latencies.append(await cp.call(ws, "MeterValues", _meter_values(energy)))
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - tick)))
            await ws.close()
            reader.cancel()
        except Exception as err:  # a failing charge point is counted, the run goes on
            errors.append(f"{cp.id}: {type(err).__name__}: {err}")
            if not booted:
                arrive()

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, i) for i in range(count)))
    wall = time.perf_counter() - began
    ms = [x * 1000 for x in latencies]
    return {
        "charge_points": count,
        "calls": len(ms),
        "calls_per_s": round(len(ms) / duration, 1) if duration else None,
        "p50_ms": round(_percentile(ms, 0.50) or 0, 2),
        "p90_ms": round(_percentile(ms, 0.90) or 0, 2),
        "p99_ms": round(_percentile(ms, 0.99) or 0, 2),
        "max_ms": round(max(ms), 2) if ms else None,
        "boot_p99_ms": round((_percentile(boot_latencies, 0.99) or 0) * 1000, 2),
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_s": round(wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--charge-points", type=int, default=200)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--connect-parallel", type=int, default=50)
    args = parser.parse_args()
    result = asyncio.run(run_load(args.url, args.charge_points, args.interval, args.duration, args.connect_parallel))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
