"""`python -m bench`: lists the benchmarks, runs one, prints one JSON object per benchmark.

Shape only: no timing assertions (the machine is shared).
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

from bench.__main__ import Broken, run_one

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {"api", "config_load", "engine", "gc_pause", "modbus", "mqtt", "ocpp", "recorder", "simulation"}


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_list_names_every_benchmark_module() -> None:
    done = _bench("--list")
    assert done.returncode == 0, done.stderr
    names = done.stdout.split()
    assert set(names) >= EXPECTED
    assert not any(name.startswith("_") for name in names)  # helpers such as _ocpp_load are not benchmarks


def test_only_runs_one_benchmark_and_prints_one_json_object() -> None:
    done = _bench("--only", "config_load", "--quick")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["name"] == "config_load"
    assert isinstance(record["cores"], int) and record["cores"] >= 1
    assert record["quick"] is True
    assert set(record["load_average_1m"]) == {"before", "after"}
    assert "error" not in record
    assert record["parameters"]["automations"] == 100
    assert {"load_config_s", "automations_per_s"} <= set(record["figures"])


def test_unknown_benchmark_name_is_refused_with_the_known_names() -> None:
    done = _bench("--only", "no_such_bench")
    assert done.returncode == 2
    assert "no_such_bench" in done.stderr and "config_load" in done.stderr
    assert done.stdout == ""


def test_a_failing_benchmark_becomes_an_error_record() -> None:
    module = types.ModuleType("bench.exploding")

    def run(quick: bool) -> dict[str, object]:
        raise RuntimeError("server did not start")

    module.run = run  # type: ignore[attr-defined]
    record = run_one("exploding", module, quick=True)
    assert record["name"] == "exploding"
    assert record["error"] == "RuntimeError: server did not start"
    broken = run_one("unimportable", Broken("unimportable", ImportError("no module named x")), quick=False)
    assert broken["error"] == "import failed: ImportError: no module named x"


def test_a_coroutine_benchmark_is_awaited() -> None:
    module = types.ModuleType("bench.coro")

    async def run(quick: bool) -> dict[str, object]:
        return {"parameters": {"quick": quick}, "figures": {"answer": 42}}

    module.run = run  # type: ignore[attr-defined]
    record = run_one("coro", module, quick=False)
    assert record["figures"] == {"answer": 42}
    assert record["parameters"] == {"quick": False}
