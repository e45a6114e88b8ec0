"""The sim-devices command's plug-in discovery."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from orbiteos.cli import build_parser, sim_devices


def test_every_protocol_sim_server_is_found_and_adds_its_options() -> None:
    servers = sim_devices.discover_servers()
    assert "modbus" in servers
    assert all(callable(m.serve) for m in servers.values())
    args = build_parser().parse_args(["sim-devices", "-c", "x", "--modbus-pv-port", "1502", "--no-modbus"])
    assert args.modbus_pv_port == 1502 and args.no_modbus and args.modbus_battery_port == 5021


def test_a_plug_in_that_fails_to_import_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    real_import = importlib.import_module

    def failing_import(name: str, package: str | None = None) -> Any:
        if name == "orbiteos.integrations.modbus.sim_server":
            raise RuntimeError("broken on purpose")
        return real_import(name, package)

    monkeypatch.setattr(sim_devices.importlib, "import_module", failing_import)
    servers = sim_devices.discover_servers()
    assert "modbus" not in servers
    assert "broken on purpose" in caplog.text
