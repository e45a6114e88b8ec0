"""Partial start: one broken automation or integration block does not stop the rest of the site."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import aiohttp

from orbiteos.cli import main as cli_main
from orbiteos.config import load_config
from orbiteos.core import Event, Hub
from orbiteos.integrations.http.auth import TokenStore
from orbiteos.runtime import run_hub

CONFIGURATION = """
orbiteos:
  name: Partial
http:
  server_host: 127.0.0.1
  server_port: 0
modbus:
  - name: broken
    typo_key: 1
automation: !include automations.yaml
"""

AUTOMATIONS = """
- id: frequency_response
  alias: Frequency response
  trigger: {platform: event, event_type: go}
  action:
    - service: automation.turn_off
      target: {entity_id: automation.peak_shaving}
- id: typo
  alias: Typo
  trigger: {platform: stat, entity_id: meter.grid}
  action: []
- id: peak_shaving
  alias: Peak shaving
  trigger: {platform: event, event_type: go}
  action:
    - event: shaved
"""


def write_site(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(CONFIGURATION))
    (config_dir / "automations.yaml").write_text(textwrap.dedent(AUTOMATIONS))


async def test_a_broken_automation_is_unavailable_with_file_line_and_the_others_run(tmp_path: Path) -> None:
    write_site(tmp_path)
    token = TokenStore.for_config_dir(tmp_path).create("viewer", "viewer")
    loaded = load_config(tmp_path)
    assert loaded.errors  # `orbiteos check` would fail; `run` starts what it can
    stop = asyncio.Event()
    seen: dict[str, Any] = {}

    async def on_started(hub: Hub) -> None:
        shaved: list[Event] = []
        hub.bus.listen("shaved", shaved.append)
        hub.bus.fire("go")
        await hub.wait_idle()
        seen["shaved"] = len(shaved)
        seen["peak_shaving"] = hub.states.get("automation.peak_shaving")
        seen["typo"] = hub.states.get("automation.typo")
        seen["modbus"] = "modbus" in hub.data
        url = hub.data["http"].url
        async with aiohttp.ClientSession(base_url=url) as session:
            response = await session.get("/api/automations", headers={"Authorization": f"Bearer {token}"})
            seen["api"] = await response.json()
        stop.set()

    async with asyncio.timeout(30):
        await run_hub(loaded, stop_event=stop, on_started=on_started, refreeze_interval=None)
    assert seen["shaved"] == 1
    assert seen["peak_shaving"].state == "off"  # turned off by frequency response's service call
    typo = seen["typo"]
    assert typo.state == "unavailable"
    assert typo.attributes["errors"] and typo.attributes["errors"][0].startswith("automations.yaml:10:")
    assert "stat" in typo.attributes["errors"][0]
    assert seen["modbus"] is False  # the invalid block is skipped, not half set up
    listed = {item["entity_id"]: item for item in seen["api"]}
    assert listed["automation.typo"]["state"] == "unavailable"
    assert listed["automation.typo"]["errors"] == typo.attributes["errors"]
    assert listed["automation.frequency_response"]["state"] == "on"


def test_check_exits_1_and_run_strict_refuses(tmp_path: Path, capsys: Any) -> None:
    write_site(tmp_path)
    assert cli_main(["check", "-c", str(tmp_path)]) == 1
    assert cli_main(["run", "--strict", "-c", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not starting (--strict)" in err and "automations.yaml:10" in err
