"""`orbiteos check --strict`: an entity that no configured integration provides is an error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orbiteos.cli import main as cli_main

MODBUS_ONLY = """
orbiteos:
  name: Modbus only
modbus:
  - name: meters
    host: 127.0.0.1
    port: 5020
    sensors:
      - name: Grid power
        address: 100
        data_type: int16
automation:
  - id: watch
    alias: Watch
    trigger:
      - platform: numeric_state
        entity_id: meter.gird
        above: 20
    action:
      - service: modbus.write_register
        data: {hub: meters, address: 10, value: 1}
"""


def write(config_dir: Path, text: str) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(text))


def test_strict_check_fails_on_an_entity_nothing_provides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, MODBUS_ONLY)
    assert cli_main(["check", "-c", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "configuration.yaml:16: warning: meter.gird: no integration provides this entity" in out
    assert cli_main(["check", "--strict", "-c", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "configuration.yaml:16: meter.gird: no integration provides this entity" in out
    assert "1 error(s)" in out


def test_strict_check_passes_when_the_entity_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, MODBUS_ONLY.replace("meter.gird", "sensor.grid_power"))
    assert cli_main(["check", "--strict", "-c", str(tmp_path)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


@pytest.mark.parametrize("config_dir", ["config.example", "config.example/protocols"])
def test_the_example_configurations_pass_the_strict_check(config_dir: str) -> None:
    root = Path(__file__).resolve().parents[2]
    assert cli_main(["check", "--strict", "-c", str(root / config_dir)]) == 0
