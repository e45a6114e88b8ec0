"""Run every benchmark and print one JSON object per benchmark, one per line.

A benchmark is a module `bench/<name>.py` with `NAME: str` and `run(quick: bool) -> dict`
(a coroutine function is fine). The dict holds `parameters` and `figures`; this runner adds
the name, the machine's core count and the wall time.

    python -m bench               # all
    python -m bench --only engine  # one (repeatable)
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
from pathlib import Path
from typing import Any


def discover() -> dict[str, Any]:
    here = Path(__file__).parent
    modules = {}
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if hasattr(module, "run"):
            modules[getattr(module, "NAME", info.name)] = module
    return modules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
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
        began = time.perf_counter()
        try:
            result = module.run(args.quick)
            if inspect.isawaitable(result):
                result = asyncio.run(result)
        except Exception as err:  # a broken benchmark is reported, the rest go on
            result = {"error": f"{type(err).__name__}: {err}"}
            failed += 1
        record = {
            "name": name,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "wall_s": round(time.perf_counter() - began, 3),
            **result,
        }
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
