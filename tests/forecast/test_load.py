"""The load forecast: a profile by weekday and time of day, with a fading recent-level correction."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orbiteos.forecast.load import LoadForecaster
from orbiteos.forecast.series import Horizon

AMS = ZoneInfo("Europe/Amsterdam")
SLOT = timedelta(minutes=15)


def office(moment: datetime) -> float:
    if moment.weekday() >= 5:
        return 5.0
    return 40.0 if 8 <= moment.hour < 17 else 10.0


def learn_days(forecaster: LoadForecaster, first: datetime, days: int) -> None:
    for i in range(days * 96):
        moment = first + i * SLOT
        forecaster.learn(moment.timestamp(), office(moment), live=False)


def test_a_learnt_week_forecasts_weekdays_and_the_weekend_apart() -> None:
    forecaster = LoadForecaster(AMS, 900.0)
    learn_days(forecaster, datetime(2026, 11, 16, tzinfo=AMS), 7)  # Monday to Sunday
    friday = Horizon(datetime(2026, 11, 27, 16, 0, tzinfo=AMS), SLOT, 96)
    values = forecaster.forecast(friday)
    assert values[:4] == [40.0] * 4  # 16:00-17:00
    assert values[4] == 10.0
    assert values[32:36] == [5.0] * 4  # Saturday 00:00


def test_a_missing_weekday_falls_back_to_the_same_kind_of_day() -> None:
    forecaster = LoadForecaster(AMS, 900.0)
    learn_days(forecaster, datetime(2026, 11, 23, tzinfo=AMS), 1)  # a Monday only
    saturday_noon = Horizon(datetime(2026, 11, 28, 12, 0, tzinfo=AMS), SLOT, 1)
    tuesday_noon = Horizon(datetime(2026, 11, 24, 12, 0, tzinfo=AMS), SLOT, 1)
    assert forecaster.forecast(tuesday_noon) == [40.0]  # another weekday: Monday's profile
    assert forecaster.forecast(saturday_noon) == [40.0]  # no weekend seen yet: any day's
    learn_days(forecaster, datetime(2026, 11, 29, tzinfo=AMS), 1)  # a Sunday
    assert forecaster.forecast(saturday_noon) == [5.0]


def test_the_last_hour_corrects_the_profile_fading_with_the_lead() -> None:
    forecaster = LoadForecaster(AMS, 900.0, learning_rate=0.0, fade_hours=1.5)
    learn_days(forecaster, datetime(2026, 11, 16, tzinfo=AMS), 7)
    now = datetime(2026, 11, 23, 9, 0, tzinfo=AMS)
    for i in range(4):  # the last hour ran 12 kW above the profile
        start = now - (4 - i) * SLOT
        forecaster.learn(start.timestamp(), office(start) + 12.0)
    values = forecaster.forecast(Horizon(now, SLOT, 40))
    assert values[0] == pytest.approx(40.0 + 12.0 * 0.9200444146293233)  # exp(-0.125 / 1.5)
    assert values[39] == pytest.approx(10.0, abs=0.05)  # ten hours on: the profile


def test_with_no_history_the_last_level_holds() -> None:
    forecaster = LoadForecaster(AMS, 900.0)
    assert forecaster.forecast(Horizon(datetime(2026, 11, 23, tzinfo=AMS), SLOT, 2)) == [0.0, 0.0]
    forecaster.learn(datetime(2026, 11, 23, 9, tzinfo=AMS).timestamp(), 33.0)
    assert forecaster.forecast(Horizon(datetime(2026, 11, 25, 3, tzinfo=AMS), SLOT, 1)) == [33.0]
