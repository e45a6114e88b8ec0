"""run_hub freezes what exists after start-up out of the garbage collector, renews that hourly, thaws it on stop.

A full collection then walks only objects made since start-up instead of every module, template and
connection (docs/performance.md, "Garbage collection").
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from datetime import UTC, datetime
from pathlib import Path

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import LoadedConfig
from orbiteos.core import Hub, SiteConfig
from orbiteos.runtime import REFREEZE_INTERVAL, run_hub, start_hub, thaw_startup_objects
from orbiteos.yaml_loader import NodeDict


def _collector_sees(obj: object) -> bool:
    """gc.get_objects() lists the three generations, not the frozen (permanent) one."""
    return any(candidate is obj for candidate in gc.get_objects())


def _loaded() -> LoadedConfig:
    return LoadedConfig(config_dir=Path("."), raw=NodeDict(), site=SiteConfig(name="Frozen"))


async def test_objects_alive_after_start_up_are_frozen_while_the_hub_runs_and_thawed_after() -> None:
    thaw_startup_objects()
    stop = asyncio.Event()
    seen: dict[str, object] = {}

    def on_started(hub: Hub) -> None:
        seen["freeze_count"] = gc.get_freeze_count()
        seen["hub_collectable"] = _collector_sees(hub)
        seen["states_collectable"] = _collector_sees(hub.states)
        made_after_start = Hub()
        seen["new_object_collectable"] = _collector_sees(made_after_start)
        stop.set()

    try:
        async with asyncio.timeout(10):
            hub = await run_hub(_loaded(), stop_event=stop, on_started=on_started)
        assert isinstance(seen["freeze_count"], int) and seen["freeze_count"] > 0
        assert seen["hub_collectable"] is False
        assert seen["states_collectable"] is False
        assert seen["new_object_collectable"] is True
        assert gc.get_freeze_count() == 0
        assert _collector_sees(hub)  # a stopped hub is an ordinary object again and can be freed
    finally:
        thaw_startup_objects()


async def test_start_hub_can_leave_the_collector_alone() -> None:
    thaw_startup_objects()
    try:
        hub = await start_hub(_loaded(), freeze=False)
        assert gc.get_freeze_count() == 0
        assert _collector_sees(hub)
        await hub.stop()
    finally:
        thaw_startup_objects()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_hourly_refreeze_frees_frozen_garbage_and_freezes_objects_made_since() -> None:
    thaw_startup_objects()
    junk = _Cycle()  # alive at start-up, so frozen; dropped while the hub runs
    junk_ref = weakref.ref(junk)
    holder = [junk]
    del junk
    seen: dict[str, bool] = {}

    async def main(clock: VirtualClock) -> None:
        stop = asyncio.Event()

        async def on_started(hub: Hub) -> None:
            holder.clear()
            gc.collect()
            seen["junk_alive_while_frozen"] = junk_ref() is not None
            late = Hub()  # a connection made after start-up, say
            seen["late_collectable_before"] = _collector_sees(late)
            await hub.clock.sleep(REFREEZE_INTERVAL + 1)
            seen["junk_alive_after_refreeze"] = junk_ref() is not None
            seen["late_collectable_after"] = _collector_sees(late)
            stop.set()

        await run_hub(_loaded(), clock=clock, stop_event=stop, on_started=on_started)

    try:
        run_virtual(main, datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        thaw_startup_objects()
    assert seen == {
        "junk_alive_while_frozen": True,
        "late_collectable_before": True,
        "junk_alive_after_refreeze": False,
        "late_collectable_after": False,
    }
