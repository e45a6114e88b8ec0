"""`orbiteos sim-devices` as a subprocess: its simulated charger connects to our central system over
OCPP, and config.example/protocols' ocpp package (pointed at a free port) controls it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orbiteos.config import load_config

from .conftest import CentralFactory, until

ROOT = Path(__file__).resolve().parents[3]


def _sim_yaml() -> str:
    now = datetime.now(UTC)
    arrival, departure = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=2)).strftime("%H:%M")
    return f"""\
orbiteos:
  name: sim-devices ocpp test
  time_zone: UTC
sim:
  step: 0.2
  ev_charger:
    - name: depot
      max_power_kw: 22
      preparing_s: 0
      sessions:
        - arrival: "{arrival}"
          departure: "{departure}"
          arrival_soc: 30
          target_soc: 90
          max_power_kw: 22
"""


async def test_sim_devices_charger_is_controlled_by_the_protocols_configuration(
    central: CentralFactory, tmp_path: Path
) -> None:
    block = dict(load_config(ROOT / "config.example" / "protocols").blocks["ocpp"])
    block.update(host="127.0.0.1", port=0)
    hub, system, url = await central(**block)
    (tmp_path / "configuration.yaml").write_text(_sim_yaml())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orbiteos.cli", "sim-devices", "-c", str(tmp_path), "--no-mqtt", "--no-modbus",
        "--ocpp-url", url, "--ocpp-meter-interval", "0.5",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        await until(lambda: (hub.states.get("ev_charger.depot_1").attributes.get("transaction_id") is not None
                             and float(hub.states.get("ev_charger.depot_1").state) > 20), "charging over OCPP")
        assert hub.states.get("ev_charger.depot_1").attributes["id_tag"] == "SIMTAG01"
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot_1", "power_kw": 5})
        await until(lambda: abs(float(hub.states.get("ev_charger.depot_1").state) - 5.0) < 0.01,
                    "the subprocess's simulator at 5 kW")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(15):
                raw, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            raw, _ = await process.communicate()
    output = raw.decode()
    assert "sim-devices: stopping" in output
    await until(lambda: hub.states.get("ev_charger.depot_1").state == "unavailable", "unavailable after it stops")
