"""Optimiser: milliseconds to build and solve one plan with HiGHS (96 slots of 15 min = 24 h).

Two problems, each solved `repeats` times (build + solve, `orbiteos.optimiser.solve`):

- `small`: 1 battery, 2 EV chargers with a session each (target <= 100 ms median);
- `large`: 4 batteries, 10 EV chargers with two sessions each (target <= 500 ms median).

Wall and CPU milliseconds per solve (CPU: `time.process_time`, all threads).
Both have a time-of-use price, a PV day, an office load, an import limit and a demand charge, so
every kind of constraint is in play. `--quick` solves each 5 times instead of 30.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from orbiteos.optimiser import BatteryModel, ChargerModel, EVSession, Problem, solve

NAME = "optimiser"
SLOTS = 96


def _problem(batteries: int, chargers: int) -> Problem:
    price = [0.18 if i < 28 else 0.32 if i < 68 else 0.42 if i < 84 else 0.24 for i in range(SLOTS)]
    pv = [max(0.0, 50.0 * batteries * math.sin(math.pi * (i - 32) / 36)) if 32 <= i < 68 else 0.0
          for i in range(SLOTS)]
    load = [8.0 * batteries + (40.0 * batteries if 32 <= i < 72 else 0.0) for i in range(SLOTS)]
    sessions = []
    for k in range(chargers):
        sessions.append(EVSession(f"ev_charger.c{k}", 30 + k % 3, 50, 45.0, 22.0, name="morning"))
        if chargers > 2:
            sessions.append(EVSession(f"ev_charger.c{k}", 52, 72 + k % 4, 25.0, 11.0, name="afternoon"))
    return Problem(
        start=datetime(2026, 11, 24, tzinfo=UTC),
        slot=timedelta(minutes=15),
        import_price=price,
        export_price=[0.06] * SLOTS,
        pv_kw=pv,
        load_kw=load,
        import_limit_kw=[80.0 * batteries] * SLOTS,
        export_limit_kw=[40.0 * batteries] * SLOTS,
        batteries=[BatteryModel(f"battery.b{b}", 100.0, 60.0, 10.0, 95.0, 50.0, 50.0, 0.95, 0.95, 0.02)
                   for b in range(batteries)],
        chargers=[ChargerModel(f"ev_charger.c{k}", 22.0) for k in range(chargers)],
        sessions=sessions,
        demand_charge_eur_per_kw=10.0,
    )


def _measure(problem: Problem, repeats: int) -> dict[str, Any]:
    solve(problem)  # warm: HiGHS's first call in a process loads its library
    times, cpu = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        plan = solve(problem)
        times.append((time.perf_counter() - began) * 1000.0)
        cpu.append((time.process_time() - began_cpu) * 1000.0)
    return {
        "batteries": len(problem.batteries),
        "chargers": len(problem.chargers),
        "sessions": len(problem.sessions),
        "median_ms": round(statistics.median(times), 2),
        "max_ms": round(max(times), 2),
        "median_cpu_ms": round(statistics.median(cpu), 2),  # steadier than wall time on a shared machine
        "status": plan.status,
        "objective_eur": round(plan.objective_eur, 2),
        "shortfalls": len(plan.shortfalls),
    }


def run(quick: bool) -> dict[str, Any]:
    repeats = 5 if quick else 30
    return {
        "parameters": {"slots": SLOTS, "slot_min": 15, "repeats": repeats},
        "figures": {
            "small": _measure(_problem(1, 2), repeats),
            "large": _measure(_problem(4, 10), repeats),
        },
    }
