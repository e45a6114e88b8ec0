"""The `ocpp:` block: the documented examples load, bad blocks are refused with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orbiteos.config import load_config
from orbiteos.integrations.ocpp import CONFIG_SCHEMA, SERVICES

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "integrations" / "ocpp.md"


def _doc_blocks() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [yaml.safe_load(b) for b in blocks]


def test_every_ocpp_block_in_the_doc_is_valid() -> None:
    blocks = [b["ocpp"] for b in _doc_blocks() if "ocpp" in b]
    assert blocks
    for block in blocks:
        config = CONFIG_SCHEMA(block)
        assert config["charge_points"][0]["id"] == "depot_cp1"
        assert config["charge_points"][1] == {"id": "depot_cp2", "connectors": 1, "phases": 3, "voltage": 230.0,
                                              "max_current_a": 32.0}


def test_the_docs_automation_uses_services_the_integration_provides() -> None:
    automations = [b["automation"] for b in _doc_blocks() if "automation" in b]
    for automation in automations:
        domain, service = automation[0]["actions"][0]["action"].split(".")
        assert service in SERVICES[domain]


def test_protocols_example_configures_the_simulated_charger() -> None:
    loaded = load_config(REPO / "config.example" / "protocols")
    ocpp_errors = [e for e in loaded.errors if "ocpp" in str(e)]
    assert ocpp_errors == []
    block = loaded.blocks["ocpp"]
    assert [cp["id"] for cp in block["charge_points"]] == ["depot"]
    assert block["port"] == 9000
    assert "set_limit" in loaded.services["ev_charger"]


def _load(tmp_path: Path, ocpp_block: str) -> list[str]:
    (tmp_path / "configuration.yaml").write_text("ocpp:\n" + ocpp_block, encoding="utf-8")
    return [str(e) for e in load_config(tmp_path).errors]


@pytest.mark.parametrize(
    ("block", "line", "expected"),
    [
        ("  port: 9000\n", 2, "charge_points"),
        ("  charge_points:\n    - id: a/b\n", 3, "without '/'"),
        ("  charge_points:\n    - a\n    - a\n", 4, "appears twice"),
        ("  charge_points:\n    - CP-1\n    - cp_1\n", 4, "gives the same entity ids as 'CP-1'"),
        ("  charge_points: [a]\n  charging_rate_unit: kW\n", 3, "expected one of auto, W, A"),
        ("  charge_points: [a]\n  id_tags: [ABCDEFGHIJKLMNOPQRSTUVWXYZ]\n", 3, "1 to 20 characters"),
        ("  charge_points: [a]\n  port: 99999\n", 3, "port"),
    ],
)
def test_bad_blocks_are_refused_with_file_and_line(tmp_path: Path, block: str, line: int, expected: str) -> None:
    errors = _load(tmp_path, block)
    assert errors, "expected a configuration error"
    assert any(f"configuration.yaml:{line}" in e and expected in e for e in errors), errors
