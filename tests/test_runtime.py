"""run_hub: integrations set up, the hub started, and a clean stop when the stop event is set."""

from __future__ import annotations

import asyncio
import sys
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import LoadedConfig
from orbiteos.core import EVENT_START, Hub, SiteConfig
from orbiteos.runtime import DATA_CONFIG, run_hub
from orbiteos.yaml_loader import NodeDict


async def test_run_hub_sets_up_starts_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    module = types.ModuleType("orbiteos.integrations.lifecycle_probe")

    async def async_setup(hub: Hub, config: Any) -> None:
        seen.append(f"setup {config['value']}")
        hub.bus.listen(EVENT_START, lambda event: seen.append("start event"))
        hub.on_stop(lambda: seen.append("stopped"))

    module.async_setup = async_setup  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "orbiteos.integrations.lifecycle_probe", module)
    loaded = LoadedConfig(
        config_dir=Path("."), raw=NodeDict(), blocks={"lifecycle_probe": {"value": 7}}, site=SiteConfig(name="Probe")
    )
    stop = asyncio.Event()
    hubs: list[Hub] = []

    def on_started(hub: Hub) -> None:
        hubs.append(hub)
        seen.append("on_started")
        stop.set()

    async with asyncio.timeout(10):
        hub = await run_hub(loaded, stop_event=stop, on_started=on_started)
    assert seen == ["setup 7", "start event", "on_started", "stopped"]
    assert hubs == [hub]
    assert hub.config.name == "Probe"
    assert hub.data[DATA_CONFIG] is loaded
    assert not hub.running


async def test_run_hub_stops_the_hub_when_cancelled() -> None:
    loaded = LoadedConfig(config_dir=Path("."), raw=NodeDict())
    started: list[Hub] = []
    ready = asyncio.Event()

    def on_started(hub: Hub) -> None:
        started.append(hub)
        ready.set()

    task = asyncio.create_task(run_hub(loaded, on_started=on_started))
    async with asyncio.timeout(10):
        await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not started[0].running


def test_a_stuck_stop_callback_is_abandoned_after_the_stop_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def main(clock: VirtualClock) -> tuple[Hub, float]:
        loaded = LoadedConfig(config_dir=Path("."), raw=NodeDict(), site=SiteConfig(name="Stuck"))
        stop = asyncio.Event()

        def on_started(hub: Hub) -> None:
            hub.on_stop(lambda: asyncio.sleep(3600))  # never finishes in time
            stop.set()

        loop = asyncio.get_running_loop()
        hub = await run_hub(loaded, clock=clock, stop_event=stop, on_started=on_started, stop_timeout=30)
        return hub, loop.time()

    hub, elapsed = run_virtual(main, datetime(2026, 1, 1, tzinfo=UTC))
    assert 30 <= elapsed < 3600
    assert "site 'Stuck' did not stop within 30 s" in caplog.text
