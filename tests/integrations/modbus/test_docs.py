"""The YAML examples of docs/integrations/modbus.md load without errors, and packages join."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orbiteos.config import load_config
from orbiteos.integrations.modbus.profiles import orbiteos_battery, sunspec

DOC = Path(__file__).resolve().parents[3] / "docs" / "integrations" / "modbus.md"
EXAMPLES = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_doc_example_loads(tmp_path: Path, example: str) -> None:
    (tmp_path / "configuration.yaml").write_text("orbiteos:\n  name: doc\n" + example)
    loaded = load_config(tmp_path)
    assert [str(e) for e in loaded.errors] == []
    if example.startswith("modbus:"):
        assert loaded.blocks["modbus"]


def test_modbus_lists_from_several_packages_are_joined(tmp_path: Path) -> None:
    (tmp_path / "packages").mkdir()
    (tmp_path / "configuration.yaml").write_text("orbiteos:\n  name: t\n  packages: !include_dir_named packages\n")
    for name in ("a", "b"):
        (tmp_path / "packages" / f"{name}.yaml").write_text(
            f"modbus:\n  - name: {name}\n    host: 127.0.0.1\n    sensors:\n      - {{name: {name}, address: 1}}\n"
        )
    loaded = load_config(tmp_path)
    assert loaded.errors == []
    assert sorted(hub["name"] for hub in loaded.blocks["modbus"]) == ["a", "b"]


def test_the_documented_register_tables_match_the_profiles() -> None:
    text = DOC.read_text()
    for address, point in ((sunspec.W, "W / W_SF"), (sunspec.WH, "WH / WH_SF"), (sunspec.WRTG, "WRtg / WRtg_SF"),
                           (sunspec.WMAXLIMPCT, "WMaxLimPct"), (sunspec.WMAXLIM_ENA, "WMaxLim_Ena"),
                           (sunspec.WMAXLIMPCT_SF, "WMaxLimPct_SF"), (sunspec.ST, "St ")):
        assert re.search(rf"\| {address}\b[^|]*\| {re.escape(point)}", text), point
    for address, name in ((orbiteos_battery.SOC, "state of charge"), (orbiteos_battery.MODE, "mode"),
                          (orbiteos_battery.TEMPERATURE, "temperature"), (orbiteos_battery.CYCLES, "full cycles")):
        assert re.search(rf"\| {address}(-\d+)? \| {name}", text), name
