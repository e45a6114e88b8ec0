"""Automation engine throughput and latency.

Workload (the anchor): 1,000 sensors, 200 automations, each with a `numeric_state` trigger on its
own sensor (above 50), a template condition and one service call whose data is templated.

Figures:
- `writes_per_s_no_crossing`: state writes over all 1,000 sensors that never cross a threshold
  (the trigger index and the numeric check on every write to a watched sensor).
- `writes_per_s_crossing`: every write to a watched sensor crosses (alternating 0 and 100, so half
  of them fire a run: conditions, the run, the service call); writes go over all 1,000 sensors.
- `writes_per_s_every_write_crossing`: the anchor workload of LIBRARY-NOTES.md: writes only to the
  200 watched sensors, each one crossing (half of them upwards, firing a run); Home Assistant
  2024.3 did about 6,300 writes/s on it on this kind of machine.
- `latency_us`: from `states.set()` to the service handler being called, p50/p99/max, as wall time
  and as this thread's CPU time (the CPU figure leaves out time the OS gave to other processes,
  which dominates the wall-clock tail on a shared 2-core machine).
- `writes_per_cpu_s`: the same writes divided by the process CPU time they took.
- `template_renders_per_s`: a typical `states() | float * 2` template.
- `startup`: time to load and set up 1,000 entities + 500 automations, and 10,000 entities + 500
  automations, each in a fresh process, with its peak RSS.

Run: `.venv/bin/python -m bench --only engine` (add `--quick` for a smoke run).
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from orbiteos.automation import async_setup, validate_config
from orbiteos.core import Hub, ServiceCall
from orbiteos.template import Template

NAME = "engine"


def automation_configs(count: int) -> list[dict[str, Any]]:
    raw = [
        {
            "id": f"a{i}",
            "mode": "parallel",
            "max": 1000,
            "trigger": {"platform": "numeric_state", "entity_id": f"sensor.s{i}", "above": 50},
            "condition": f"{{{{ states('sensor.s{i}') | float(0) < 1000 }}}}",
            "action": {"service": "bench.record", "data": {"power_kw": "{{ trigger.to_state.state | float }}",
                                                            "source": f"a{i}"}},
        }
        for i in range(count)
    ]
    validated, errors = validate_config(raw)
    if errors:
        raise RuntimeError(f"bench automations invalid: {errors[0]}")
    return validated


async def build_hub(entities: int, automations: int) -> tuple[Hub, list[tuple[float, float]]]:
    hub = Hub()
    received: list[tuple[float, float]] = []

    def record(call: ServiceCall) -> None:
        received.append((time.perf_counter(), time.thread_time()))
        arrived = hub.data.get("bench_arrived")
        if arrived is not None:
            arrived.set()

    hub.services.register("bench", "record", record)
    for i in range(entities):
        hub.states.set(f"sensor.s{i}", "0", {"unit_of_measurement": "kW"})
    await async_setup(hub, automation_configs(automations))
    await hub.start()
    return hub, received


async def _drain(hub: Hub) -> None:
    await hub.wait_idle(max_rounds=100_000)


async def writes_per_second(
    entities: int, automations: int, writes: int, crossing: bool, watched_only: bool = False
) -> dict[str, float]:
    """Writes round-robin over all sensors (or only the watched ones, each write then crossing)."""
    hub, received = await build_hub(entities, automations)
    states = hub.states
    targets = automations if watched_only else entities
    names = [f"sensor.s{i}" for i in range(targets)]
    gc.collect()
    began, began_cpu = time.perf_counter(), time.process_time()
    batch = 2000
    for start in range(0, writes, batch):
        for n in range(start, min(start + batch, writes)):
            lap = n // targets
            value = ("100" if lap % 2 == 0 else "0") if crossing else str(lap % 40)
            states.set(names[n % targets], value)
        await _drain(hub)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    await hub.stop()
    return {"writes_per_s": round(writes / elapsed), "writes_per_cpu_s": round(writes / cpu),
            "runs": len(received), "seconds": round(elapsed, 3), "cpu_seconds": round(cpu, 3)}


async def latency(entities: int, automations: int, samples: int) -> dict[str, float]:
    hub, received = await build_hub(entities, automations)
    gaps: list[float] = []
    cpu_gaps: list[float] = []
    for n in range(samples):
        entity = f"sensor.s{n % automations}"
        hub.states.set(entity, "0")
        await _drain(hub)
        arrived = hub.data["bench_arrived"] = asyncio.Event()
        began, began_cpu = time.perf_counter(), time.thread_time()
        hub.states.set(entity, "100")
        await arrived.wait()
        gaps.append((received[-1][0] - began) * 1e6)
        cpu_gaps.append((received[-1][1] - began_cpu) * 1e6)
        await _drain(hub)
    await hub.stop()
    return {"wall": _percentiles(gaps), "cpu": _percentiles(cpu_gaps), "samples": samples}


def _percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "p50": round(statistics.median(values), 1),
        "p99": round(values[min(len(values) - 1, int(len(values) * 0.99))], 1),
        "max": round(values[-1], 1),
    }


def template_renders(count: int) -> dict[str, float]:
    async def main() -> float:
        hub = Hub()
        hub.states.set("sensor.grid", "3.2")
        template = Template("{{ states('sensor.grid') | float * 2 }}", hub)
        template.render()
        began = time.perf_counter()
        for _ in range(count):
            template.render()
        return time.perf_counter() - began

    elapsed = asyncio.run(main())
    return {"renders_per_s": round(count / elapsed)}


def startup_in_process(entities: int, automations: int) -> dict[str, float]:
    async def main() -> float:
        began = time.perf_counter()
        hub, _ = await build_hub(entities, automations)
        elapsed = time.perf_counter() - began
        await hub.stop()
        return elapsed

    elapsed = asyncio.run(main())
    return {"entities": entities, "automations": automations, "seconds": round(elapsed, 3),
            "peak_rss_mb": round(_peak_rss_mb(), 1)}


def _peak_rss_mb() -> float:
    """This process image's peak RSS (VmHWM; ru_maxrss would carry the parent's peak across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def startup(entities: int, automations: int) -> dict[str, float]:
    """Measured in a fresh interpreter, so RSS is this workload's alone."""
    code = (
        "import json, bench.engine as e; "
        f"print(json.dumps(e.startup_in_process({entities}, {automations})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> dict[str, Any]:
    entities, automations = 1000, 200
    writes = 20_000 if quick else 200_000
    samples = 200 if quick else 2000
    figures = {
        "writes_per_s_no_crossing": asyncio.run(writes_per_second(entities, automations, writes, crossing=False)),
        "writes_per_s_crossing": asyncio.run(writes_per_second(entities, automations, writes, crossing=True)),
        "writes_per_s_every_write_crossing": asyncio.run(
            writes_per_second(entities, automations, writes // 4, crossing=True, watched_only=True)
        ),
        "latency_us": asyncio.run(latency(entities, automations, samples)),
        "template_renders_per_s": template_renders(20_000 if quick else 200_000),
        "startup": [startup(1000, 500), startup(10_000, 500)],
    }
    return {
        "parameters": {"entities": entities, "automations": automations, "writes": writes,
                       "latency_samples": samples},
        "figures": figures,
    }
