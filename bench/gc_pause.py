"""Garbage-collector pauses on a started site, with and without `orbiteos.runtime.freeze_startup_objects`.

A site after start-up: 10,000 sensors with attributes and 500 automations (numeric_state trigger,
template condition, templated service call). Then, in the same process:

- `full_collection_ms`: how long one `gc.collect()` takes (median of 5): the pause a full
  collection puts on the event loop;
- `during_writes`: 100,000 state writes over the 10,000 sensors (each sensor alternating between
  below and above its automation's threshold, so automations run), with every collection the
  interpreter starts on its own timed through `gc.callbacks`: count, longest and total per generation;

first as Python leaves it, then after `freeze_startup_objects()` (what `orbiteos run` does once
the hub has started).

    python -m bench --only gc_pause [--quick]

Not part of the default run (about a minute each), an OCPP probe: bench/ocpp.py's OrbitEOS
server with 1,000 charge points, with every full collection logged (when, how long, the objects
left), as it is, frozen right after the server started (as `orbiteos run` does), or frozen some
seconds after start (once the charge points have booted):

    python -m bench.gc_pause --ocpp --freeze none|start|15 [--duration 40]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orbiteos.automation import async_setup, validate_config
from orbiteos.core import Hub, ServiceCall
from orbiteos.runtime import freeze_startup_objects, thaw_startup_objects

NAME = "gc_pause"


def _automations(count: int) -> list[dict[str, Any]]:
    raw = [
        {
            "id": f"a{i}",
            "mode": "parallel",
            "trigger": {"platform": "numeric_state", "entity_id": f"sensor.s{i}", "above": 50},
            "condition": f"{{{{ states('sensor.s{i}') | float(0) < 1000 }}}}",
            "action": {"service": "bench.record", "data": {"power_kw": "{{ trigger.to_state.state | float }}"}},
        }
        for i in range(count)
    ]
    validated, errors = validate_config(raw)
    if errors:
        raise RuntimeError(f"bench automations invalid: {errors[0]}")
    return validated


async def _site(entities: int, automations: int) -> tuple[Hub, list[ServiceCall]]:
    hub = Hub()
    calls: list[ServiceCall] = []
    hub.services.register("bench", "record", calls.append)
    for i in range(entities):
        hub.states.set(f"sensor.s{i}", "0", {"unit_of_measurement": "kW", "friendly_name": f"Sensor {i}"})
    await async_setup(hub, _automations(automations))
    await hub.start()
    return hub, calls


@contextmanager
def _collections() -> Iterator[list[tuple[int, float]]]:
    """Every collection started while inside: (generation, milliseconds)."""
    seen: list[tuple[int, float]] = []
    began = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            seen.append((info["generation"], (time.perf_counter() - began[0]) * 1000))

    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)


def _full_collection_ms(repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 2)


async def _writes(hub: Hub, entities: int, writes: int, offset: int) -> dict[str, Any]:
    names = [f"sensor.s{i}" for i in range(entities)]
    with _collections() as seen:
        began = time.perf_counter()
        for n in range(writes):
            # Each sensor alternates between below and above its automation's threshold lap by lap.
            lap, i = divmod(n, entities)
            value = "100" if (lap + i + offset) % 2 == 0 else str(lap % 40)
            hub.states.set(names[i], value)
            if n % 2000 == 1999:
                await hub.wait_idle(max_rounds=100_000)
        await hub.wait_idle(max_rounds=100_000)
        elapsed = time.perf_counter() - began
    by_generation: dict[str, dict[str, float]] = {}
    for generation in (0, 1, 2):
        pauses = [ms for g, ms in seen if g == generation]
        by_generation[f"gen{generation}"] = {
            "count": len(pauses),
            "max_ms": round(max(pauses), 2) if pauses else 0.0,
            "total_ms": round(sum(pauses), 1),
        }
    return {"writes_per_s": round(writes / elapsed), "collections": by_generation}


async def _measure(entities: int, automations: int, writes: int) -> dict[str, Any]:
    thaw_startup_objects()
    hub, calls = await _site(entities, automations)
    try:
        gc.collect()
        tracked = len(gc.get_objects())
        default = {
            "full_collection_ms": _full_collection_ms(),
            "during_writes": await _writes(hub, entities, writes, 0),
        }
        frozen_count = freeze_startup_objects()
        frozen = {
            "objects_frozen": frozen_count,
            "full_collection_ms": _full_collection_ms(),
            "during_writes": await _writes(hub, entities, writes, 1),
        }
    finally:
        thaw_startup_objects()
        await hub.stop()
    return {"tracked_objects_after_start_up": tracked, "default": default, "frozen": frozen,
            "automation_runs": len(calls)}


async def run(quick: bool) -> dict[str, Any]:
    entities, automations = (2000, 100) if quick else (10_000, 500)
    writes = 20_000 if quick else 100_000
    return {
        "parameters": {"entities": entities, "automations": automations, "writes_per_phase": writes,
                       "gc_threshold": list(gc.get_threshold())},
        "figures": await _measure(entities, automations, writes),
    }


async def ocpp_probe(charge_points: int, duration: float, freeze: str) -> dict[str, Any]:
    """bench/ocpp.py's OrbitEOS server, every full collection logged (seconds after start, ms, objects left).

    `freeze`: "none"; "start" (right after the server has started, before any charge point connects,
    as `orbiteos run` does); or a number of seconds after start (after the charge points booted).
    """
    import bench.ocpp as ocpp_bench  # only this probe needs the OCPP stack

    thaw_startup_objects()
    full: list[dict[str, float]] = []
    began = time.perf_counter()
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started[0] = time.perf_counter()
            return
        full.append({"at_s": round(started[0] - began, 1), "ms": round((time.perf_counter() - started[0]) * 1000, 1),
                     "objects_after": len(gc.get_objects(2))})

    frozen: list[int] = []
    original_server = ocpp_bench._orbiteos_server

    async def server_frozen_at_start(count: int, validate_in_thread: bool) -> Any:
        started_server = await original_server(count, validate_in_thread)
        frozen.append(freeze_startup_objects())
        return started_server

    if freeze == "start":
        ocpp_bench._orbiteos_server = server_frozen_at_start  # type: ignore[assignment]
    elif freeze != "none":
        asyncio.get_running_loop().call_later(float(freeze), lambda: frozen.append(freeze_startup_objects()))
    gc.callbacks.append(callback)
    try:
        result = await ocpp_bench._measure_orbiteos(charge_points, duration, False)
    finally:
        gc.callbacks.remove(callback)
        ocpp_bench._orbiteos_server = original_server  # type: ignore[assignment]
        thaw_startup_objects()
    keys = ("calls", "p50_ms", "p99_ms", "max_ms", "errors", "server_loop_lag_p99_ms", "server_loop_lag_max_ms",
            "load_average_1m")
    return {"freeze": freeze, "objects_frozen": frozen[0] if frozen else 0,
            **{key: result[key] for key in keys}, "full_collections": full}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gc_pause")
    parser.add_argument("--ocpp", action="store_true", help="run the OCPP probe instead")
    parser.add_argument("--charge-points", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--freeze", default="none", help='"none", "start" or seconds after start (default none)')
    args = parser.parse_args()
    if not args.ocpp:
        print(json.dumps(asyncio.run(run(False))))
        return 0
    record = asyncio.run(ocpp_probe(args.charge_points, args.duration, args.freeze))
    print(json.dumps({"name": "gc_pause_ocpp", "charge_points": args.charge_points, "duration_s": args.duration,
                      **record}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
