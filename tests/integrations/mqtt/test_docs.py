"""docs/integrations/mqtt.md and config.example/protocols/packages/mqtt.yaml are valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orbiteos.config import load_config
from orbiteos.integrations import mqtt

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "integrations" / "mqtt.md"
YAML_BLOCK = re.compile(r"```yaml\n(?P<body>.*?)```", re.S)


def doc_blocks() -> list[str]:
    blocks = [m["body"] for m in YAML_BLOCK.finditer(DOC.read_text(encoding="utf-8"))]
    assert len(blocks) >= 6
    return blocks


@pytest.mark.parametrize("index", range(len(doc_blocks())))
def test_each_yaml_example_in_the_doc_loads_without_errors(tmp_path: Path, index: int) -> None:
    (tmp_path / "configuration.yaml").write_text(doc_blocks()[index], encoding="utf-8")
    (tmp_path / "secrets.yaml").write_text("mqtt_password: hunter2\n", encoding="utf-8")
    loaded = load_config(tmp_path)
    assert [str(e) for e in loaded.errors] == []
    assert "mqtt" in loaded.blocks or "automation" in loaded.blocks


def test_protocols_package_reads_the_sim_meter() -> None:
    package = yaml.safe_load((ROOT / "config.example" / "protocols" / "packages" / "mqtt.yaml").read_text())
    config = mqtt.CONFIG_SCHEMA(package["mqtt"])
    [meter] = config["meter"]
    assert meter["entity_id"] == "meter.grid"
    assert meter["state_topic"] == "orbiteos-sim/meter/grid"
