"""docs/simulator.md's example is a valid `sim:` block that runs."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import sim

DOC = Path(__file__).resolve().parents[3] / "docs" / "simulator.md"


def test_the_page_example_validates_and_runs() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    config = sim.CONFIG_SCHEMA(yaml.safe_load(blocks[0])["sim"])
    assert config["ev_charger"][0]["sessions"][0]["days"] == frozenset(range(5))

    async def main(clock: VirtualClock) -> dict[str, str]:
        hub = Hub(clock, SiteConfig(time_zone="Europe/Amsterdam"))
        await sim.async_setup(hub, config)
        await clock.sleep(60)
        states = {s.entity_id: s.state for s in hub.states.all()}
        await hub.stop()
        return states

    states = run_virtual(main, datetime(2026, 11, 24, 16, 30, tzinfo=ZoneInfo("Europe/Amsterdam")))
    assert states["sensor.grid_import_limit"] == "60.0"  # inside the 16:00-20:00 window
    assert states["sensor.electricity_price"] == "0.32"
    assert {"pv.roof", "battery.main", "ev_charger.depot", "meter.grid", "sensor.site_load"} <= set(states)
