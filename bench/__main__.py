"""Run every benchmark and print one JSON object per benchmark, one per line.

A benchmark is a module `bench/<name>.py` with `NAME: str` and `run(quick: bool) -> dict`
(a coroutine function is fine). The dict holds `parameters` and `figures`; this runner adds
the name, the machine's core count, the start time (UTC), the wall time and the 1-minute load
average before and after (the machine may be shared: a figure means little without it).

    python -m bench                     # all, one after the other
    python -m bench --only engine       # one (repeatable)
    python -m bench --quick             # smaller sizes, for a smoke run
    python -m bench --list              # the names

A benchmark that fails to import or raises is reported as `{"name": ..., "error": ...}` and the
others still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Broken:
    """A benchmark module that could not be imported: listed and reported, never run."""

    def __init__(self, name: str, error: BaseException) -> None:
        self.NAME = name
        self.error = f"import failed: {type(error).__name__}: {error}"


def discover() -> dict[str, ModuleType | Broken]:
    """Benchmark modules by NAME, in file-name order; `_`-prefixed modules are helpers."""
    if str(ROOT) not in sys.path:  # bench/ imports tests.servers.* for its PostgreSQL and mosquitto
        sys.path.insert(0, str(ROOT))
    modules: dict[str, ModuleType | Broken] = {}
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"bench.{info.name}")
        except Exception as err:  # one broken benchmark must not hide the others
            modules[info.name] = Broken(info.name, err)
            continue
        if hasattr(module, "run"):
            modules[getattr(module, "NAME", info.name)] = module
    return modules


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run_one(name: str, module: ModuleType | Broken, quick: bool) -> dict[str, Any]:
    """Run one benchmark and return its JSON record (an `error` key if it failed)."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = _load()
    began = time.perf_counter()
    result: dict[str, Any]
    if isinstance(module, Broken):
        result = {"error": module.error}
    else:
        try:
            outcome: Any = module.run(quick)
            result = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
        except Exception as err:  # a broken benchmark is reported, the rest go on
            traceback.print_exc(file=sys.stderr)
            result = {"error": f"{type(err).__name__}: {err}"}
    return {
        "name": name,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "quick": quick,
        "started_utc": started,
        "wall_s": round(time.perf_counter() - began, 3),
        "load_average_1m": {"before": load_before, "after": _load()},
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run OrbitEOS benchmarks; JSON lines out.")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--list", action="store_true", help="list benchmark names")
    args = parser.parse_args(argv)
    modules = discover()
    if args.list:
        print("\n".join(modules))
        return 0
    unknown = set(args.only or []) - set(modules)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(modules)}", file=sys.stderr)
        return 2
    failed = 0
    for name, module in modules.items():
        if args.only and name not in args.only:
            continue
        record = run_one(name, module, args.quick)
        failed += "error" in record
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
