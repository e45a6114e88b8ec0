"""A recorded simulated day of the demo site (config.example): its simulated devices and
automations run on the virtual clock in a thread of their own, and their events are handed in
batches to a hub on the real clock whose recorder writes them into a database, with the
simulated times. Used by the dashboard test and the storage benchmark.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import load_config
from orbiteos.core import EVENT_STATE_CHANGED, MATCH_ALL, Event, Hub, SiteConfig
from orbiteos.integrations import recorder as recorder_integration
from orbiteos.integrations.recorder.history import get_recorder
from orbiteos.loader import setup_integrations
from orbiteos.runtime import DATA_CONFIG
from orbiteos.simulate.runner import AUTOMATION, runnable_blocks

DEMO = Path(__file__).parents[3] / "config.example"
# A weekday in June: sun for the PV, the van and the car at the charger, the 14:00 frequency dip.
DAY = datetime(2026, 6, 16, tzinfo=ZoneInfo("Europe/Amsterdam"))
_BATCH = 2_000  # events per hand-over
_END = object()


def _simulate(step: float, duration: timedelta, out: queue.Queue[Any]) -> None:
    """Run the demo on the virtual clock, putting its events on `out` in batches (blocking when full)."""
    loaded = load_config(DEMO)
    blocks, _ = runnable_blocks(loaded)
    blocks["sim"] = {**blocks["sim"], "step": step}
    automations = {AUTOMATION: blocks.pop(AUTOMATION)} if AUTOMATION in blocks else {}
    start = DAY

    async def main(clock: VirtualClock) -> None:
        hub = Hub(clock, replace(loaded.site, config_dir=None))
        hub.data[DATA_CONFIG] = loaded
        hub.services.dry_run_unknown = True
        pending: list[Event] = []

        def keep(event: Event) -> None:
            pending.append(event)
            if len(pending) >= _BATCH:
                out.put(pending.copy())
                pending.clear()

        hub.bus.listen(EVENT_STATE_CHANGED, keep)
        hub.bus.listen(MATCH_ALL, keep)
        await setup_integrations(hub, blocks)
        if automations:
            await setup_integrations(hub, automations)
        await hub.start()
        await clock.sleep(duration.total_seconds())
        await hub.stop()
        out.put(pending)

    try:
        run_virtual(main, start)
    finally:
        out.put(_END)


def demo_events(step: float = 10.0, duration: timedelta = timedelta(days=1)) -> Iterator[list[Event]]:
    """The demo's events from DAY for `duration` at `step` seconds, in batches, as the simulation makes them."""
    handed: queue.Queue[Any] = queue.Queue(maxsize=8)
    thread = threading.Thread(target=_simulate, args=(step, duration, handed), name="demo-day", daemon=True)
    thread.start()
    try:
        while (batch := handed.get()) is not _END:
            yield batch
    finally:
        thread.join(60)


async def record(url: str, journal_dir: Path, batches: Iterable[list[Event]]) -> int:
    """Dispatch the events to a hub whose recorder writes into `url`; returns the rows written."""
    hub = Hub(config=SiteConfig(config_dir=journal_dir))
    await recorder_integration.async_setup(hub, {"db_url": url, "commit_interval": 0.05, "max_queue": 200_000})
    await hub.start()
    try:
        recorder = get_recorder(hub)
        assert recorder is not None
        await recorder.wait_connected()
        source = iter(batches)
        while (batch := await asyncio.to_thread(next, source, None)) is not None:
            for event in batch:
                hub.bus.dispatch(event)
            if len(recorder.backlog.memory) > 100_000:
                await recorder.flush()
        await recorder.flush()
        return recorder.rows_written
    finally:
        await hub.stop()
