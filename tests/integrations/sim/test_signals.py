from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orbiteos.errors import ConfigError
from orbiteos.integrations.sim import grid_signals, tariff
from orbiteos.integrations.sim.schedule import SiteTime

TZ = ZoneInfo("Europe/Amsterdam")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def test_time_of_use_periods_wrap_across_midnight_and_follow_weekdays() -> None:
    config = tariff.SCHEMA(
        {"time_of_use": [{"start": "07:00", "price": 0.30}, {"start": "22:00", "price": 0.15},
                         {"start": "07:00", "price": 0.20, "days": "weekend"}]}
    )
    prices = tariff.Tariff(config, None, TZ)
    site_time = SiteTime(TZ)
    assert prices.step(_ts("2026-11-24T03:00"), site_time) == 0.15  # Tuesday night: yesterday's 22:00
    assert prices.step(_ts("2026-11-24T12:00"), site_time) == 0.30
    assert prices.step(_ts("2026-11-28T12:00"), site_time) == 0.20  # Saturday: the weekend entry wins


def test_site_time_follows_daylight_saving_changes() -> None:
    site_time = SiteTime(TZ)
    _day, second, weekday = site_time.split(_ts("2026-03-29T12:00"))  # after the spring change
    assert second == 12 * 3600 and weekday == 6
    _day, second, _weekday = site_time.split(_ts("2026-10-25T12:00"))  # after the autumn change
    assert second == 12 * 3600


def test_day_ahead_prices_from_a_csv(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text(
        "time,price\n2026-11-24T00:00,0.11\n2026-11-24T01:00:00+01:00,0.09\n2026-11-24T02:00,0.31\n", encoding="utf-8"
    )
    config = tariff.SCHEMA({"day_ahead_csv": "prices.csv"})
    prices = tariff.Tariff(config, tmp_path, TZ)
    site_time = SiteTime(TZ)
    assert prices.step(_ts("2026-11-24T00:30"), site_time) == 0.11
    assert prices.step(_ts("2026-11-24T01:59"), site_time) == 0.09
    assert prices.step(_ts("2026-11-24T09:00"), site_time) == 0.31


def test_a_bad_day_ahead_row_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text("time,price\n2026-11-24T00:00,0.11\n2026-11-24T01:00,cheap\n",
                                         encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        tariff.Tariff(tariff.SCHEMA({"day_ahead_csv": "prices.csv"}), tmp_path, TZ)
    assert err.value.line == 3 and "expected a price in EUR/kWh, found 'cheap'" in str(err.value)


def test_a_congestion_window_can_cross_midnight() -> None:
    signals = grid_signals.GridSignals(
        grid_signals.SCHEMA({"import_limit_kw": 80, "schedule": [{"start": "22:00", "end": "06:00",
                                                                   "import_limit_kw": 40, "days": ["mon"]}]})
    )
    signals.step(23 * 3600, 0)  # Monday 23:00
    assert signals.import_limit_kw == 40
    signals.step(3 * 3600, 1)  # Tuesday 03:00, still Monday's window
    assert signals.import_limit_kw == 40
    signals.step(3 * 3600, 2)  # Wednesday 03:00: Tuesday has no window
    assert signals.import_limit_kw == 80
    assert signals.export_limit_kw == 1000
