"""Simulator: wall and CPU seconds for one simulated day at 1 s steps of the demo site.

Three runs of `orbiteos simulate`'s runner on config.example (2026-11-24, a Tuesday):

- `site_only`: the simulated site alone (no automations), with the KPI collector;
- `plain_peak_shaving`: with the plain-YAML peak shaving automation of tests/simulate/ (every 10 s);
- `demo`: with the demo's own automations (config.example/packages/automations.yaml).

CPU seconds (`time.process_time`) are the figure to compare against the 10 s target on a shared
machine; wall seconds are quoted next to the load average they were measured under.
`--quick` simulates 2 hours instead of a day.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from orbiteos.config import load_config
from orbiteos.simulate.runner import simulate

NAME = "simulation"
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "config.example"
PLAIN_PEAK_SHAVING = ROOT / "tests" / "simulate" / "peak_shaving.yaml"
START = datetime(2026, 11, 24, tzinfo=ZoneInfo("Europe/Amsterdam"))


def _measure(config_dir: Path, duration: timedelta, automations: bool) -> dict[str, Any]:
    loaded = load_config(config_dir)
    if loaded.errors:
        raise RuntimeError(f"{config_dir}: {loaded.errors[0]}")
    cpu, wall = time.process_time(), time.perf_counter()
    result = simulate(loaded, START, duration, automations=automations)
    kpis = result.report["kpis"]
    return {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "automation_runs": kpis["automation_runs"],
        "service_calls": len(result.report["service_calls"]),
        "peak_15min_import_kw": kpis["peak_15min_import_kw"],
    }


def run(quick: bool) -> dict[str, Any]:
    duration = timedelta(hours=2) if quick else timedelta(days=1)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "config"
        shutil.copytree(DEMO, plain, ignore=shutil.ignore_patterns(".storage", "protocols", "var"))
        shutil.copy(PLAIN_PEAK_SHAVING, plain / "packages" / "automations.yaml")
        figures: dict[str, Any] = {
            "site_only": _measure(DEMO, duration, automations=False),
            "plain_peak_shaving": _measure(plain, duration, automations=True),
            "demo": _measure(DEMO, duration, automations=True),
        }
    figures["load_average_before"] = round(load_before, 2)
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    return {
        "parameters": {"simulated_s": duration.total_seconds(), "step_s": 1, "start": START.isoformat()},
        "figures": figures,
    }
