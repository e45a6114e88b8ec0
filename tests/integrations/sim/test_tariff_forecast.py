"""The simulated tariff publishes its prices ahead in a `forecast` attribute, as HA price integrations do."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from orbiteos.clock import VirtualClock
from orbiteos.core import Hub
from tests.integrations.sim.test_site import AMSTERDAM, SITE, run_site

START = datetime(2026, 11, 24, 9, 7, tzinfo=AMSTERDAM)


def _forecasts(config: dict[str, Any], seconds: float, start: datetime = START) -> tuple[Any, Any]:
    captured: dict[str, Any] = {}

    async def scenario(hub: Hub, clock: VirtualClock) -> None:
        await clock.sleep(seconds)
        captured["import"] = hub.states.get("sensor.electricity_price")
        captured["export"] = hub.states.get("sensor.electricity_export_price")

    run_site(config, seconds + 1, scenario, start)
    return captured["import"], captured["export"]


def test_a_time_of_use_table_is_published_for_today_and_tomorrow() -> None:
    config = {**SITE, "tariff": {"time_of_use": [{"start": "00:00", "price": 0.18}, {"start": "07:00", "price": 0.32},
                                                 {"start": "17:00", "price": 0.42}, {"start": "21:00", "price": 0.24}],
                                 "export_price": 0.06, "demand_charge": 12.5}}
    price, export = _forecasts(config, 60)
    assert price.state == "0.32"
    assert price.attributes["demand_charge_eur_per_kw_month"] == 12.5
    entries = price.attributes["forecast"]
    # Today from midnight and tomorrow, as Home Assistant's price integrations publish them.
    assert [(e["start"], e["value"]) for e in entries] == [
        ("2026-11-24T00:00:00+01:00", 0.18), ("2026-11-24T07:00:00+01:00", 0.32), ("2026-11-24T17:00:00+01:00", 0.42),
        ("2026-11-24T21:00:00+01:00", 0.24), ("2026-11-25T00:00:00+01:00", 0.18),
        ("2026-11-25T07:00:00+01:00", 0.32), ("2026-11-25T17:00:00+01:00", 0.42),
        ("2026-11-25T21:00:00+01:00", 0.24),
    ]
    assert entries[-1]["end"] == "2026-11-26T00:00:00+01:00"
    assert export.attributes["forecast"] == [
        {"start": "2026-11-24T00:00:00+01:00", "end": "2026-11-26T00:00:00+01:00", "value": 0.06}]


def test_a_day_ahead_series_shows_tomorrow_only_once_it_is_published(tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    first = datetime(2026, 11, 24, 0, 0, tzinfo=AMSTERDAM)
    csv.write_text("time,price\n" + "".join(
        f"{(first + timedelta(hours=h)).isoformat()},{0.1 + h / 100:.2f}\n" for h in range(48)), encoding="utf-8")
    config = {**SITE, "tariff": {"day_ahead_csv": str(csv), "publish_at": "13:00"}}
    morning, _ = _forecasts(config, 60)
    assert morning.attributes["forecast"][-1]["end"] == "2026-11-25T00:00:00+01:00"  # today only
    assert morning.attributes["forecast"][9] == {
        "start": "2026-11-24T09:00:00+01:00", "end": "2026-11-24T10:00:00+01:00", "value": 0.19}
    afternoon, _ = _forecasts(config, 4 * 3600)  # 13:07
    assert afternoon.attributes["forecast"][-1] == {
        "start": "2026-11-25T23:00:00+01:00", "end": "2026-11-26T00:00:00+01:00", "value": 0.57}
