"""The optimiser against the rule-based blueprints over a simulated week of the demo site.

    python -m bench._optimiser_week [--days 7] [--start 2026-11-23T00:00] [--out week.json]

Four runs of `orbiteos simulate`'s runner, all with the same site, seed and week:

- `none`: no automations;
- `rule_based`: the demo's automations before the optimiser (bench/optimiser_week/rule_based_automations.yaml:
  peak shaving, dynamic tariff on price thresholds, PV-surplus EV charging, congestion and frequency response);
- `optimiser`: config.example as shipped: forecasts made only from what was known at the time, the plan
  followed by blueprints/automation/orbiteos/follow_plan.yaml;
- `perfect_foresight`: the same, but the PV and load forecasts are the run's own future (the 15 min means
  of a run without automations, replayed as `sensor.perfect_pv` / `sensor.perfect_load` forecasts).

Prints one JSON object: the KPIs of each run. Not part of `python -m bench` (it takes minutes).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from orbiteos.config import load_config
from orbiteos.simulate import replay
from orbiteos.simulate.runner import simulate

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "config.example"
RULES = ROOT / "bench" / "optimiser_week" / "rule_based_automations.yaml"
SLOT = timedelta(minutes=15)


def _copy_demo(target: Path) -> Path:
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns(".storage", "protocols", "var"))
    return target


def _run(config_dir: Path, start: datetime, days: int, automations: bool = True,
         rows: list[replay.ReplayRow] | None = None, sample_s: float | None = None) -> Any:
    loaded = load_config(config_dir)
    if loaded.errors:
        raise RuntimeError(f"{config_dir}: {loaded.errors[0]}")
    began = time.perf_counter()
    result = simulate(loaded, start, timedelta(days=days), rows, automations=automations, sample_s=sample_s)
    print(f"{config_dir.name}: {days} d in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    return result


def _slot_means(times: list[datetime], values: list[float], start: datetime, slots: int) -> list[float]:
    sums, counts = [0.0] * slots, [0] * slots
    for moment, value in zip(times, values, strict=True):
        index = int((moment - start) / SLOT)
        if 0 <= index < slots:
            sums[index] += value
            counts[index] += 1
    return [sums[i] / counts[i] if counts[i] else 0.0 for i in range(slots)]


def _perfect_replay(path: Path, start: datetime, pv: list[float], load: list[float], slots: int) -> None:
    """At every slot, `sensor.perfect_pv` and `sensor.perfect_load` carry the next 24 h as they happened."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "entity_id", "state", "attributes"])
        for i in range(slots):
            for entity_id, series in (("sensor.perfect_pv", pv), ("sensor.perfect_load", load)):
                ahead = [{"start": (start + k * SLOT).isoformat(), "end": (start + (k + 1) * SLOT).isoformat(),
                          "value": round(series[k], 3)} for k in range(i, min(i + 96, len(series)))]
                offset = (i * SLOT).total_seconds() - (1.0 if i == 0 else 0.0)
                writer.writerow([offset, entity_id, round(series[i], 3), json.dumps({"forecast": ahead})])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._optimiser_week")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--start", default="2026-11-23T00:00")
    parser.add_argument("--out")
    parser.add_argument("--only", action="append", help="none, rule_based, optimiser, perfect_foresight")
    args = parser.parse_args(argv)
    loaded = load_config(DEMO)
    start = datetime.fromisoformat(args.start).replace(tzinfo=loaded.site.tzinfo)
    wanted = set(args.only or ["none", "rule_based", "optimiser", "perfect_foresight"])
    results: dict[str, Any] = {"start": start.isoformat(), "days": args.days}
    with tempfile.TemporaryDirectory() as tmp:
        if "none" in wanted:
            results["none"] = _run(DEMO, start, args.days, automations=False).report["kpis"]
        if "rule_based" in wanted:
            rules = _copy_demo(Path(tmp) / "rule_based")
            (rules / "packages" / "optimiser.yaml").unlink()
            shutil.copy(RULES, rules / "packages" / "automations.yaml")
            results["rule_based"] = _run(rules, start, args.days).report["kpis"]
        if "optimiser" in wanted:
            results["optimiser"] = _run(DEMO, start, args.days).report["kpis"]
        if "perfect_foresight" in wanted:
            slots = (args.days + 1) * 96
            site = _run(DEMO, start, args.days + 1, automations=False, sample_s=60.0).timeline
            pv = _slot_means(site.times, site.pv_kw, start, slots)
            load = _slot_means(site.times, [g + p + b - e for g, p, b, e in zip(
                site.grid_kw, site.pv_kw, site.battery_kw, site.ev_kw, strict=True)], start, slots)
            perfect = _copy_demo(Path(tmp) / "perfect_foresight")
            package = perfect / "packages" / "optimiser.yaml"
            config = yaml.safe_load(package.read_text(encoding="utf-8"))
            config["forecast"]["pv"] = {"forecast_entity": "sensor.perfect_pv"}
            config["forecast"]["load"] = {"forecast_entity": "sensor.perfect_load"}
            package.write_text(yaml.safe_dump(config), encoding="utf-8")
            timeline = Path(tmp) / "perfect.csv"
            _perfect_replay(timeline, start, pv, load, args.days * 96)
            rows = replay.read_replay(timeline, start, loaded.site.tzinfo)
            results["perfect_foresight"] = _run(perfect, start, args.days, rows=rows).report["kpis"]
    text = json.dumps(results, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
