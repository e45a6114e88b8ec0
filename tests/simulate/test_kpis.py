from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.core import Hub, SiteConfig
from orbiteos.simulate.kpis import KpiCollector

TZ = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 11, 24, 0, 0, tzinfo=TZ)


def _run(timeline: list[tuple[float, str, str, dict[str, Any]]], seconds: float) -> dict[str, Any]:
    """Write `(offset, entity_id, state, attributes)` at their moments and return the KPIs."""

    async def main(clock: VirtualClock) -> dict[str, Any]:
        hub = Hub(clock, SiteConfig(time_zone="Europe/Amsterdam"))
        kpis = KpiCollector(hub, clock.now())
        for offset, entity_id, state, attributes in sorted(timeline, key=lambda row: row[0]):
            await clock.sleep(offset - (clock.now() - START).total_seconds())
            hub.states.set(entity_id, state, attributes)
        await clock.sleep(seconds - (clock.now() - START).total_seconds())
        return kpis.kpis(clock.now())

    return run_virtual(main, START)


def test_peak_is_the_highest_clock_aligned_quarter_hour_average() -> None:
    figures = _run(
        [
            (0, "sensor.electricity_price", "0.20", {}),
            (0, "meter.grid", "10", {}),
            (20 * 60, "meter.grid", "100", {}),  # 00:20 - 00:35: 100 kW across two quarters
            (35 * 60, "meter.grid", "10", {}),
        ],
        3600,
    )
    # 00:15-00:30 holds 10 min at 100 kW and 5 at 10 kW: 70 kW; 00:30-00:45 holds 5 min at 100: 40 kW.
    assert figures["peak_15min_import_kw"] == pytest.approx(70.0)
    assert figures["peak_15min_start"] == "2026-11-24T00:15:00+01:00"
    assert figures["grid_import_kwh"] == pytest.approx(10 * 45 / 60 + 100 * 15 / 60)
    assert figures["energy_cost_eur"] == pytest.approx(0.2 * figures["grid_import_kwh"])


def test_self_consumption_self_sufficiency_and_export_revenue() -> None:
    figures = _run(
        [
            (0, "sensor.electricity_price", "0.30", {}),
            (0, "sensor.electricity_export_price", "0.05", {}),
            (0, "pv.roof", "10", {}),
            (0, "meter.grid", "-5", {}),  # 10 kW of PV, 5 used on site, 5 exported
            (3600, "pv.roof", "0", {}),
            (3600, "meter.grid", "5", {}),  # then 5 kW from the grid
        ],
        7200,
    )
    assert figures["pv_kwh"] == pytest.approx(10)
    assert figures["grid_export_kwh"] == pytest.approx(5)
    assert figures["consumption_kwh"] == pytest.approx(10)
    assert figures["self_consumption_pct"] == pytest.approx(50)
    assert figures["self_sufficiency_pct"] == pytest.approx(50)
    assert figures["energy_cost_eur"] == pytest.approx(5 * 0.30 - 5 * 0.05)


def test_battery_cycles_grid_limit_and_ev_energy_missing() -> None:
    figures = _run(
        [
            (0, "sensor.grid_import_limit", "50", {}),
            (0, "battery.main", "-20", {"capacity_kwh": 40}),
            (0, "meter.grid", "60", {}),  # over the limit for 30 minutes
            (1800, "meter.grid", "20", {}),
            (3600, "battery.main", "20", {"capacity_kwh": 40}),
            (0, "ev_charger.bay", "11", {"status": "Charging", "energy_missing_kwh": 12.0}),
            (1800, "ev_charger.bay", "11", {"status": "Charging", "energy_missing_kwh": 6.5}),
            (3600, "ev_charger.bay", "0", {"status": "Finishing"}),
            (3610, "ev_charger.bay", "0", {"status": "Available"}),
        ],
        7200,
    )
    assert figures["battery_throughput_kwh"] == pytest.approx(40)
    assert figures["battery_equivalent_full_cycles"] == pytest.approx(0.5)
    assert figures["seconds_over_grid_limit"] == pytest.approx(1800)
    assert figures["ev_energy_kwh"] == pytest.approx(11)
    assert figures["ev_sessions_departed"] == 1
    assert figures["ev_energy_missing_kwh"] == pytest.approx(6.5)


def test_unknown_and_unavailable_states_count_as_nothing() -> None:
    figures = _run([(0, "meter.grid", "unavailable", {}), (600, "meter.grid", "12", {})], 1200)
    assert figures["grid_import_kwh"] == pytest.approx(2)
    assert figures["self_consumption_pct"] is None


def test_a_run_shorter_than_a_quarter_still_has_a_peak() -> None:
    figures = _run([(0, "meter.grid", "30", {})], 300)
    # The quarter is billed whole, as the operator does: 5 minutes at 30 kW average 10 kW.
    assert figures["peak_15min_import_kw"] == pytest.approx(10)


def test_self_sufficiency_is_never_negative_when_the_battery_charges_from_the_grid() -> None:
    figures = _run([(0, "meter.grid", "30", {}), (0, "battery.main", "-20", {"capacity_kwh": 50})], 3600)
    assert figures["consumption_kwh"] == pytest.approx(10)
    assert figures["self_sufficiency_pct"] == 0
