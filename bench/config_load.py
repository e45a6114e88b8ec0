"""Configuration loading: a site with many automations spread over package files.

Figures: seconds for `load_config` (YAML with positions, packages, validation) and for the
position-stamping YAML loader against PyYAML's plain C loader on the same files.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from orbiteos.config import load_config
from orbiteos.yaml_loader import Secrets, load_yaml

NAME = "config_load"

AUTOMATION = """\
- id: limit_{i}
  alias: Limit charger {i} when the grid is busy
  triggers:
    - trigger: numeric_state
      entity_id: meter.grid
      above: {above}
      for: "00:00:30"
  conditions:
    - condition: state
      entity_id: ev_charger.bay_{i}
      state: "on"
  actions:
    - action: ev_charger.set_limit
      target:
        entity_id: ev_charger.bay_{i}
      data:
        power_kw: 7.4
"""


def _write_site(root: Path, packages: int, per_package: int) -> int:
    (root / "packages").mkdir()
    (root / "configuration.yaml").write_text(
        "orbiteos:\n  name: Bench\n  time_zone: Europe/Amsterdam\n  packages: !include_dir_named packages\n"
    )
    count = 0
    for p in range(packages):
        items = "".join(AUTOMATION.format(i=count + k, above=50 + k) for k in range(per_package))
        (root / "packages" / f"p{p:03d}.yaml").write_text("automation:\n" + _indent(items))
        count += per_package
    return count


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" if line else "\n" for line in text.splitlines())


def _best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(quick: bool) -> dict[str, Any]:
    packages, per_package, repeat = (10, 10, 3) if quick else (50, 20, 5)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        automations = _write_site(root, packages, per_package)
        files = sorted((root / "packages").glob("*.yaml"))
        loaded = load_config(root)
        load_seconds = _best(lambda: load_config(root), repeat)
        stamped_seconds = _best(lambda: [load_yaml(f, Secrets(root)) for f in files], repeat)
        plain_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        plain_seconds = _best(lambda: [yaml.load(f.read_text(), Loader=plain_loader) for f in files], repeat)
    return {
        "parameters": {"automations": automations, "package_files": packages, "repeat_best_of": repeat},
        "figures": {
            "load_config_s": round(load_seconds, 4),
            "automations_per_s": round(automations / load_seconds),
            "stamped_yaml_s": round(stamped_seconds, 4),
            "plain_pyyaml_c_s": round(plain_seconds, 4),
            "stamping_overhead_x": round(stamped_seconds / plain_seconds, 2),
            "errors": len(loaded.errors),
        },
    }
