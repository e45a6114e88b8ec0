"""Runs a loaded configuration on the virtual clock and collects the report.

The order matters: integrations first (the simulated site writes its first states), then the
replay rows before the start, then automations (so none of that triggers anything), then the
hub starts, the rest of the replay is scheduled, and virtual time runs to the end.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import LoadedConfig
from orbiteos.core import Hub
from orbiteos.loader import SetupResult, load_integration, setup_integrations
from orbiteos.natures import nature_layer
from orbiteos.runtime import DATA_CONFIG
from orbiteos.simulate import replay
from orbiteos.simulate.faults import Fault, FaultInjector
from orbiteos.simulate.kpis import KpiCollector
from orbiteos.simulate.plot import Timeline, start_sampling
from orbiteos.simulate.report import ReportCollector, build_report, moment_fields

_LOGGER = logging.getLogger(__name__)

AUTOMATION = "automation"
ProgressCallback = Callable[[float], None]


@dataclass
class SimulationResult:
    report: dict[str, Any]
    timeline: Timeline | None = None
    wall_s: float = 0.0
    skipped: list[str] = field(default_factory=list)


def runnable_blocks(loaded: LoadedConfig, automations: bool = True) -> tuple[dict[str, Any], list[str]]:
    """The blocks to set up in a simulation, and the live-only integrations left out."""
    blocks: dict[str, Any] = {}
    skipped: list[str] = []
    for domain, block in loaded.blocks.items():
        if domain == "logger" or (domain == AUTOMATION and not automations):
            continue
        module = load_integration(domain)
        if module is not None and getattr(module, "LIVE_ONLY", False):
            skipped.append(domain)
            continue
        blocks[domain] = block
    return blocks, skipped


def _with_seed(blocks: dict[str, Any], seed: int | None) -> dict[str, Any]:
    if seed is None or "sim" not in blocks:
        return blocks
    sim_block = copy.copy(blocks["sim"])
    sim_block["seed"] = seed
    return {**blocks, "sim": sim_block}


async def _run(
    clock: VirtualClock,
    loaded: LoadedConfig,
    start: datetime,
    duration: timedelta,
    rows: list[replay.ReplayRow],
    automations: bool,
    seed: int | None,
    progress: ProgressCallback | None,
    sample_s: float | None,
    faults: list[Fault],
    on_end: Callable[[Hub], None] | None = None,
) -> SimulationResult:
    # No config_dir on the hub: a simulation must not save traces or other storage into the
    # live site's directory. Integrations find relative files through hub.data[DATA_CONFIG].
    hub = Hub(clock, replace(loaded.site, config_dir=None, storage_override=None))
    hub.data[DATA_CONFIG] = loaded
    hub.services.dry_run_unknown = True
    blocks, skipped = runnable_blocks(loaded, automations)
    blocks = _with_seed(blocks, seed)
    automation_block = {AUTOMATION: blocks.pop(AUTOMATION)} if AUTOMATION in blocks else {}

    collector = ReportCollector(hub, start)
    result = await setup_integrations(hub, blocks)
    replay.apply_initial(hub, rows)
    if automation_block:
        automation_result = await setup_integrations(hub, automation_block)
        result = SetupResult(result.loaded + automation_result.loaded, {**result.failed, **automation_result.failed})
        hub.data["setup"] = result
    kpis = KpiCollector(hub, start)
    timeline = Timeline() if sample_s else None
    await hub.start()
    injector = FaultInjector(hub, faults, start) if faults else None
    if injector is not None:
        injector.schedule()
    replay.schedule(hub, rows, start)
    if timeline is not None and sample_s:
        start_sampling(hub, kpis, timeline, sample_s)
    total = duration.total_seconds()
    if progress is not None:
        _report_progress(hub, start, total, progress)
    await clock.sleep(total)
    # What the last moment started (a run triggered at the end, alongside the forecasts' and the
    # optimiser's timers of the same moment) finishes before the figures are taken.
    await hub.wait_idle()
    if on_end is not None:
        on_end(hub)  # the hub as it is at the end, before anything stops (`orbiteos explain`)
    end = clock.now()
    figures = kpis.kpis(end)
    layer = nature_layer(hub)
    figures["failsafe_seconds"] = round(layer.failsafe.seconds_active(end), 1)
    figures["max_import_kw_during_faults"] = (
        None if injector is None or injector.max_import_kw is None else round(injector.max_import_kw, 3)
    )
    tz = loaded.site.tzinfo
    failsafe_events = [_failsafe_event(e, start, tz) for e in layer.failsafe.history if e["active"]]
    failsafe_ended = [_failsafe_event(e, start, tz) for e in layer.failsafe.history if not e["active"]]
    kpis.close()
    collector.close()
    await hub.stop()
    if progress is not None:
        progress(1.0)
    sim = hub.data.get("sim")
    report = build_report(
        start.astimezone(loaded.site.tzinfo),
        end.astimezone(loaded.site.tzinfo),
        collector,
        figures,
        site=loaded.site.name,
        automations=automations,
        seed=getattr(sim, "seed", None),
        integrations=result.loaded,
        failed_integrations=result.failed,
        skipped_live_only=skipped,
    )
    report["faults"] = [fault.spec for fault in faults]
    report["failsafe_events"] = failsafe_events
    report["failsafe_ended"] = failsafe_ended
    return SimulationResult(report, timeline, skipped=skipped)


def _failsafe_event(event: dict[str, Any], start: datetime, tz: tzinfo) -> dict[str, Any]:
    moment: datetime = event["time"]
    return {**moment_fields(moment, tz), "offset": (moment - start).total_seconds(),
            "entity_id": event["entity_id"], "reason": event["reason"], "action": event["action"]}


def _report_progress(hub: Hub, start: datetime, total: float, progress: ProgressCallback) -> None:
    interval = max(60.0, total / 200.0)

    def tick() -> None:
        progress(min(1.0, (hub.clock.now() - start).total_seconds() / total) if total else 1.0)
        hub.clock.call_later(interval, tick)

    hub.clock.call_later(interval, tick)


def simulate(
    loaded: LoadedConfig,
    start: datetime,
    duration: timedelta,
    rows: list[replay.ReplayRow] | None = None,
    *,
    automations: bool = True,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    sample_s: float | None = None,
    faults: list[Fault] | None = None,
    on_end: Callable[[Hub], None] | None = None,
) -> SimulationResult:
    """Run `loaded` from `start` for `duration` on a fresh virtual-time loop (blocking).

    `on_end(hub)` is called at the end of the period, before the hub stops.
    """
    if start.tzinfo is None:
        start = start.replace(tzinfo=loaded.site.tzinfo)
    began = time.perf_counter()

    async def main(clock: VirtualClock) -> SimulationResult:
        return await _run(clock, loaded, start, duration, rows or [], automations, seed, progress, sample_s,
                          faults or [], on_end)

    result = run_virtual(main, start)
    return replace(result, wall_s=time.perf_counter() - began)
