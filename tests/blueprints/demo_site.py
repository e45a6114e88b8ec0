"""Run the demo site (a copy of config.example in tmp_path) under `orbiteos simulate --compare`.

Each blueprint test swaps in its own `packages/automations.yaml` (only the automation under
test), optionally changes the simulated site, and reads the JSON report the CLI writes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from orbiteos.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
CONFIG_EXAMPLE = REPO / "config.example"
SHIPPED = REPO / "blueprints" / "automation" / "orbiteos"


def demo_copy(tmp_path: Path, automations: str, site_change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """config.example in tmp_path with `automations` as its only automations package."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG_EXAMPLE, config, ignore=shutil.ignore_patterns(".storage", "protocols"))
    (config / "packages" / "automations.yaml").write_text(automations, encoding="utf-8")
    if site_change is not None:
        site_file = config / "packages" / "site.yaml"
        site = yaml.safe_load(site_file.read_text(encoding="utf-8"))
        site_change(site["sim"])
        site_file.write_text(yaml.safe_dump(site, sort_keys=False), encoding="utf-8")
    return config


def simulate_compare(config: Path, start: str, duration: str, replay: Path | None = None) -> dict[str, Any]:
    """`orbiteos simulate -c config --start ... --duration ... --compare --report`, in-process."""
    report = config.parent / "report.json"
    argv = ["simulate", "-c", str(config), "--start", start, "--duration", duration, "--compare", "-q",
            "--report", str(report)]
    if replay is not None:
        argv += ["--replay", str(replay)]
    assert cli_main(argv) == 0
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    assert not result["failed_integrations"], result["failed_integrations"]
    errors = [run["error"] for run in result["automation_runs"] if run["result"] == "error"]
    assert not errors, errors[:3]
    return result


def calls(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The report's service calls of `domain.service`."""
    domain, service = name.split(".")
    return [c for c in report["service_calls"] if c["domain"] == domain and c["service"] == service]


def offset_of(report: dict[str, Any], moment: str) -> float:
    """Seconds from the report's start to an ISO 8601 moment."""
    return (datetime.fromisoformat(moment) - datetime.fromisoformat(report["start"])).total_seconds()
