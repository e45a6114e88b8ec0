"""OCPP: call-to-result latency with N charge points sending Heartbeat and MeterValues every 10 s.

The charge points run in a separate process (bench/_ocpp_load.py, raw aiohttp websockets, so the
generator costs little) and measure the time from sending a call to receiving its result. The
central system runs in this process, twice in the same run on fresh ports:

- `bare`: the `ocpp` library's ChargePoint over aiohttp with minimal handlers (the baseline);
- `orbiteos`: the `ocpp:` integration on a Hub, every MeterValues written to an ev_charger entity.

Besides the latency at the charge points, each server reports its own time per frame (receipt to
answer sent), its event-loop lag (how late a 10 ms timer fires), its CPU and the load average.

The interval is the real 10 s (not compressed): each charge point sends 0.2 calls/s, so N charge
points make 0.2 N calls/s. Target: 1,000 charge points with p99 < 100 ms.

    python -m bench --only ocpp --quick     # 200 charge points, 10 s
    python -m bench --only ocpp             # 1,000 charge points, 20 s
    python -m bench.ocpp --charge-points 1000 --duration 60   # the longer run in docs/performance.md
    python -m bench.ocpp --charge-points 500 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import ocpp.messages
from aiohttp import web
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from orbiteos.core import Hub
from orbiteos.integrations.ocpp import async_setup
from orbiteos.integrations.ocpp.charge_point import CentralSystemChargePoint
from orbiteos.integrations.ocpp.transport import SUBPROTOCOL, ConnectionClosed, WebSocketConnection

NAME = "ocpp"
INTERVAL_S = 10.0


class BareChargePoint(ChargePoint):
    @on(Action.boot_notification)
    def on_boot_notification(self, **kwargs: Any) -> Any:
        return call_result.BootNotification(current_time="2026-01-01T00:00:00Z", interval=300, status="Accepted")

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs: Any) -> Any:
        return call_result.Heartbeat(current_time="2026-01-01T00:00:00Z")

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> Any:
        return call_result.MeterValues()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _bare_server() -> tuple[str, Callable[[], Awaitable[None]]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,))
        await ws.prepare(request)
        cp = BareChargePoint(request.match_info["charge_point_id"], WebSocketConnection(ws))
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ocpp/{charge_point_id}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"ws://127.0.0.1:{port}/ocpp", runner.cleanup


async def _orbiteos_server(count: int, validate_in_thread: bool) -> tuple[str, Callable[[], Awaitable[None]], Hub]:
    hub = Hub()
    await async_setup(hub, {
        "host": "127.0.0.1", "port": 0, "accept_all": True, "charging_rate_unit": "W", "heartbeat_interval": 300,
        "validate_in_thread": validate_in_thread,
        "charge_points": [f"bench{i:05d}" for i in range(count)],
    })
    await hub.start()
    return f"ws://127.0.0.1:{hub.data['ocpp'].port}/ocpp", hub.stop, hub


def _percentile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2) if ordered else 0.0


@contextlib.contextmanager
def _timed_frames(cls: type[ChargePoint], samples: list[float]) -> Iterator[None]:
    """Instrument the server: how long each incoming frame takes from receipt to the answer sent."""
    original = cls.route_message

    async def timed(self: ChargePoint, raw_msg: str) -> None:
        began = time.perf_counter()
        await original(self, raw_msg)
        samples.append(time.perf_counter() - began)

    cls.route_message = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        cls.route_message = original  # type: ignore[method-assign]


async def _loop_lag(samples: list[float], period: float = 0.01) -> None:
    """How late a 10 ms timer fires: the server process waiting for a CPU, or a blocked loop."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + period
        await asyncio.sleep(period)
        samples.append(max(0.0, loop.time() - due))


async def _drive(url: str, count: int, duration: float, cls: type[ChargePoint]) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    handling: list[float] = []
    lag: list[float] = []
    cpu_began, wall_began = time.process_time(), time.perf_counter()
    lag_task = asyncio.create_task(_loop_lag(lag))
    try:
        with _timed_frames(cls, handling):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench._ocpp_load", "--url", url, "--charge-points", str(count),
                "--interval", str(INTERVAL_S), "--duration", str(duration),
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await proc.communicate()
    finally:
        lag_task.cancel()
        await asyncio.gather(lag_task, return_exceptions=True)
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    wall = time.perf_counter() - wall_began
    result["server_frame_p50_ms"] = _percentile_ms(handling, 0.50)
    result["server_frame_p99_ms"] = _percentile_ms(handling, 0.99)
    result["server_loop_lag_p99_ms"] = _percentile_ms(lag, 0.99)
    result["server_loop_lag_max_ms"] = round(1000 * max(lag), 1) if lag else 0.0
    result["server_cpu_percent"] = round(100 * (time.process_time() - cpu_began) / wall, 1)
    # The machine is shared: the 1-minute load average says how much else wanted the 2 cores.
    result["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


async def _measure_bare(count: int, duration: float, validate_in_thread: bool) -> dict[str, Any]:
    ocpp.messages.ASYNC_VALIDATION = validate_in_thread
    url, stop = await _bare_server()
    try:
        return await _drive(url, count, duration, BareChargePoint)
    finally:
        await stop()


async def _measure_orbiteos(count: int, duration: float, validate_in_thread: bool) -> dict[str, Any]:
    url, stop, hub = await _orbiteos_server(count, validate_in_thread)
    writes = 0

    def count_write(_event: Any) -> None:
        nonlocal writes
        writes += 1

    hub.bus.listen("state_changed", count_write)
    try:
        result = await _drive(url, count, duration, CentralSystemChargePoint)
        result["state_writes"] = writes
        return result
    finally:
        await stop()


# name -> (server, JSON-schema validation in a thread like the library's default?)
VARIANTS: dict[str, tuple[Callable[[int, float, bool], Awaitable[dict[str, Any]]], bool]] = {
    "bare": (_measure_bare, True),  # the library as shipped
    "orbiteos": (_measure_orbiteos, False),  # the integration as configured by default
    "bare_inline": (_measure_bare, False),
    "orbiteos_thread": (_measure_orbiteos, True),
}
DEFAULT_VARIANTS = ("bare", "orbiteos")


async def measure(count: int, duration: float, variants: tuple[str, ...] = DEFAULT_VARIANTS) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    default_mode = ocpp.messages.ASYNC_VALIDATION
    try:
        for name in variants:
            server, in_thread = VARIANTS[name]
            figures[name] = await server(count, duration, in_thread)
    finally:
        ocpp.messages.ASYNC_VALIDATION = default_mode
    figures["target_p99_ms"] = 100
    if "orbiteos" in figures:
        figures["target_met"] = figures["orbiteos"]["p99_ms"] < 100 and figures["orbiteos"]["errors"] == 0
    return figures


async def run(quick: bool) -> dict[str, Any]:
    count, duration = (200, 10.0) if quick else (1000, 20.0)
    return {
        "parameters": {"charge_points": count, "interval_s": INTERVAL_S, "duration_s": duration,
                       "calls_per_charge_point_per_s": 2 / INTERVAL_S},
        "figures": await measure(count, duration),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ocpp")
    parser.add_argument("--charge-points", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, of {', '.join(VARIANTS)} (default %(default)s)")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.charge_points, args.duration, tuple(args.variants.split(","))))
    print(json.dumps({"name": NAME, "parameters": {"charge_points": args.charge_points, "interval_s": INTERVAL_S,
                                                   "duration_s": args.duration}, "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
