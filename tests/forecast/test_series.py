"""The `forecast: [{start, end, value}]` attribute, read into slots and written from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orbiteos.forecast.series import Horizon, entries_of, parse_entries, values_of

AMS = ZoneInfo("Europe/Amsterdam")


def test_hourly_prices_fill_quarter_hours_and_a_fallback_fills_the_rest() -> None:
    horizon = Horizon(datetime(2026, 11, 24, 10, 0, tzinfo=AMS), timedelta(minutes=15), 8)
    raw = [
        {"start": "2026-11-24T10:00:00+01:00", "end": "2026-11-24T11:00:00+01:00", "value": 0.3},
        {"start": "2026-11-24T11:00:00+01:00", "end": "2026-11-24T11:30:00+01:00", "value": 0.1},
    ]
    values = values_of(parse_entries(raw, AMS), horizon, 0.5)
    assert values == [0.3, 0.3, 0.3, 0.3, 0.1, 0.1, 0.5, 0.5]


def test_a_slot_covered_by_two_entries_takes_their_time_weighted_mean() -> None:
    horizon = Horizon(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), timedelta(hours=1), 2)
    raw = [{"start": "2026-11-24T09:00:00", "value": 10}, {"start": "2026-11-24T09:15:00", "value": 2},
           {"start": "2026-11-24T10:00:00+00:00", "end": "2026-11-24T10:30:00+00:00", "value": 4}]
    # Naive times are in the given time zone (UTC here); a missing end runs to the next start.
    assert values_of(parse_entries(raw, UTC), horizon, None) == [pytest.approx(4.0), pytest.approx(4.0)]


def test_entries_that_are_not_of_the_shape_are_skipped() -> None:
    raw = [{"start": "soon", "value": 1}, {"start": "2026-11-24T09:00:00+00:00", "value": "n/a"}, "x",
           {"start": "2026-11-24T09:00:00+00:00", "end": "2026-11-24T08:00:00+00:00", "value": 1},
           {"start": "2026-11-24T09:00:00+00:00", "value": 3}]
    assert parse_entries(raw, UTC) == [(datetime(2026, 11, 24, 9, tzinfo=UTC).timestamp(),
                                        datetime(2026, 11, 24, 10, tzinfo=UTC).timestamp(), 3.0)]
    assert parse_entries(None, UTC) == []


def test_a_horizon_starts_at_the_slot_under_way_and_writes_iso_entries() -> None:
    horizon = Horizon.from_now(datetime(2026, 11, 24, 10, 7, 30, tzinfo=AMS), timedelta(minutes=15),
                               timedelta(hours=1))
    assert horizon.start == datetime(2026, 11, 24, 10, 0, tzinfo=AMS) and horizon.count == 4
    assert entries_of(horizon, [1.23456, 0, -0.0, 2])[:2] == [
        {"start": "2026-11-24T10:00:00+01:00", "end": "2026-11-24T10:15:00+01:00", "value": 1.235},
        {"start": "2026-11-24T10:15:00+01:00", "end": "2026-11-24T10:30:00+01:00", "value": 0.0},
    ]
