"""The `ev_from_pv_kwh` KPI: PV energy into the EV, what PV has left after the site's own load."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.core import Hub, SiteConfig
from orbiteos.simulate.kpis import KpiCollector

START = datetime(2026, 6, 13, 10, 0, tzinfo=UTC)


def kpis_after(steps: list[dict[str, float]], seconds_each: float = 3600.0) -> dict:
    """Write meter/PV/battery/EV powers, each set held for `seconds_each`; the KPIs at the end."""

    async def main(clock: VirtualClock) -> dict:
        hub = Hub(clock, SiteConfig(time_zone="UTC"))
        collector = KpiCollector(hub, clock.now())
        for step in steps:
            for entity_id, kw in step.items():
                hub.states.set(entity_id, str(kw), {})
            await clock.sleep(seconds_each)
        figures = collector.kpis(clock.now())
        collector.close()
        return figures

    return run_virtual(main, START)


def test_ev_charged_from_surplus_counts_only_what_pv_has_left_after_the_site_load() -> None:
    figures = kpis_after(
        [
            # PV 30, site load 10, EV 11: the EV's 11 kW all come from PV (9 kW exported).
            {"pv.roof": 30, "ev_charger.bay": 11, "battery.main": 0, "meter.grid": -9},
            # PV 15, site load 10, EV 11: 5 kW from PV, 6 kW from the grid.
            {"pv.roof": 15, "ev_charger.bay": 11, "battery.main": 0, "meter.grid": 6},
            # The battery covers the EV at night: nothing from PV.
            {"pv.roof": 0, "ev_charger.bay": 11, "battery.main": 21, "meter.grid": 0},
        ]
    )
    assert figures["ev_energy_kwh"] == pytest.approx(33.0)
    assert figures["ev_from_pv_kwh"] == pytest.approx(11.0 + 5.0)


def test_no_ev_power_means_no_pv_into_the_ev() -> None:
    figures = kpis_after([{"pv.roof": 40, "battery.main": -20, "meter.grid": -12}])
    assert figures["ev_from_pv_kwh"] == 0.0
