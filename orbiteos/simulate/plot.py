"""The picture of a run: PV, load, EV, battery and grid power, SoC and price over time, with the
import limit line. Sampled from the KPI collector's held values; drawn with matplotlib (Agg)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orbiteos.core import Hub
from orbiteos.simulate.kpis import KpiCollector


@dataclass
class Timeline:
    times: list[datetime] = field(default_factory=list)
    pv_kw: list[float] = field(default_factory=list)
    load_kw: list[float] = field(default_factory=list)
    ev_kw: list[float] = field(default_factory=list)
    battery_kw: list[float] = field(default_factory=list)
    grid_kw: list[float] = field(default_factory=list)
    soc: list[float | None] = field(default_factory=list)
    price: list[float | None] = field(default_factory=list)
    import_limit_kw: list[float | None] = field(default_factory=list)

    def sample(self, hub: Hub, kpis: KpiCollector) -> None:
        pv = sum(kpis.pv_kw.values())
        battery = sum(kpis.battery_kw.values())
        ev = sum(kpis.ev_kw.values())
        self.times.append(hub.now_local())
        self.pv_kw.append(pv)
        self.ev_kw.append(ev)
        self.battery_kw.append(battery)
        self.grid_kw.append(kpis.grid_kw)
        self.load_kw.append(kpis.grid_kw + pv + battery - ev)
        socs = [(s.attributes.get("soc"), s.attributes.get("capacity_kwh") or 1.0) for s in hub.states.all("battery")]
        weighted = [(float(soc), float(cap)) for soc, cap in socs if isinstance(soc, int | float)]
        total_capacity = sum(cap for _soc, cap in weighted)
        self.soc.append(sum(s * c for s, c in weighted) / total_capacity if total_capacity else None)
        self.price.append(kpis.price if kpis.price == kpis.price else None)
        self.import_limit_kw.append(kpis.import_limit if kpis.import_limit != float("inf") else None)


def start_sampling(hub: Hub, kpis: KpiCollector, timeline: Timeline, interval_s: float = 60.0) -> asyncio.TimerHandle:
    """Sample now and every `interval_s` simulated seconds after; returns the first timer."""

    def tick() -> None:
        timeline.sample(hub, kpis)
        hub.clock.call_later(interval_s, tick)

    timeline.sample(hub, kpis)
    return hub.clock.call_later(interval_s, tick)


def draw(timeline: Timeline, path: Path, title: str = "", baseline: Timeline | None = None) -> None:
    """Write the picture to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, (power_ax, soc_ax) = plt.subplots(
        2, 1, figsize=(12, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
    )
    t = timeline.times
    power_ax.fill_between(t, timeline.pv_kw, color="#f6c342", alpha=0.45, label="PV", step="post")
    power_ax.step(t, timeline.load_kw, where="post", color="#555555", lw=1, label="site load")
    power_ax.step(t, timeline.ev_kw, where="post", color="#2a9d8f", lw=1, label="EV")
    power_ax.step(t, timeline.battery_kw, where="post", color="#6a4c93", lw=1, label="battery (+ discharge)")
    if baseline is not None:
        power_ax.step(baseline.times, baseline.grid_kw, where="post", color="#e76f51", lw=1, alpha=0.4,
                      label="grid without automations")
    power_ax.step(t, timeline.grid_kw, where="post", color="#d62828", lw=1.4, label="grid (+ import)")
    limits: list[Any] = timeline.import_limit_kw
    if any(v is not None for v in limits):
        power_ax.step(t, [v if v is not None else float("nan") for v in limits], where="post", color="black",
                      ls="--", lw=1, label="import limit")
    power_ax.axhline(0, color="black", lw=0.5)
    power_ax.set_ylabel("kW")
    power_ax.legend(loc="upper left", fontsize=8, ncol=3)
    power_ax.grid(alpha=0.3)
    if title:
        power_ax.set_title(title)
    soc_ax.plot(t, [v if v is not None else float("nan") for v in timeline.soc], color="#6a4c93", label="SoC %")
    soc_ax.set_ylabel("SoC %")
    soc_ax.set_ylim(0, 100)
    soc_ax.grid(alpha=0.3)
    price_ax = soc_ax.twinx()
    price_ax.step(t, [v if v is not None else float("nan") for v in timeline.price], where="post",
                  color="#1d3557", lw=1, label="price")
    price_ax.set_ylabel("EUR/kWh")
    soc_ax.legend(loc="upper left", fontsize=8)
    price_ax.legend(loc="upper right", fontsize=8)
    tz = t[0].tzinfo if t else None
    soc_ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
