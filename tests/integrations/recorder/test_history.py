"""The history API the HTTP API serves: raw states and buckets between two moments."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from orbiteos.clock import Clock
from orbiteos.core import Hub
from orbiteos.integrations.recorder.history import RecorderUnavailable, get_recorder, states_between
from tests.integrations.recorder.conftest import RecorderHub

# Recent: the recorder's purge deletes rows older than purge_keep_days as soon as it connects.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


class SteppedClock(Clock):
    """A clock the test moves by hand (the recorder runs on the real event loop)."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


async def test_raw_history_starts_with_the_state_in_effect_and_ends_before_end(recorder_hub: RecorderHub):
    async with asyncio.timeout(30), recorder_hub() as hub:
        clock = SteppedClock()
        hub.clock = clock
        for minute, entity_id, state in ((0, "meter.grid", 5), (10, "meter.grid", 7), (20, "meter.grid", 9),
                                         (21, "pv.roof", 30), (40, "meter.grid", 11)):
            clock.at = T0 + timedelta(minutes=minute)
            hub.states.set(entity_id, state, {"unit_of_measurement": "kW"})
        result = await states_between(hub, ["meter.grid", "pv.roof", "sensor.none"],
                                      T0 + timedelta(minutes=5), T0 + timedelta(minutes=40))
    assert list(result) == ["meter.grid", "pv.roof"]
    grid = result["meter.grid"]
    assert [(s["state"], s["last_updated"]) for s in grid] == [
        ("5", (T0 + timedelta(minutes=5)).isoformat()),  # in effect at the start, clipped to it
        ("7", (T0 + timedelta(minutes=10)).isoformat()),
        ("9", (T0 + timedelta(minutes=20)).isoformat()),
    ]
    assert grid[1] == {"entity_id": "meter.grid", "state": "7", "attributes": {"unit_of_measurement": "kW"},
                       "last_changed": (T0 + timedelta(minutes=10)).isoformat(),
                       "last_updated": (T0 + timedelta(minutes=10)).isoformat()}
    assert [s["state"] for s in result["pv.roof"]] == ["30"]


async def test_bucketed_history_gives_mean_min_max_and_last_state(recorder_hub: RecorderHub):
    async with asyncio.timeout(30), recorder_hub() as hub:
        clock = SteppedClock()
        hub.clock = clock
        for minute, state in ((0, 10), (3, 20), (6, "unavailable"), (8, 40)):
            clock.at = T0 + timedelta(minutes=minute)
            hub.states.set("sensor.load", state)
        result = await states_between(hub, None, T0, T0 + timedelta(minutes=10), bucket=timedelta(minutes=5))
    assert result["sensor.load"] == [
        {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=5)).isoformat(),
         "mean": 15.0, "min": 10.0, "max": 20.0, "state": "20", "count": 2},
        {"start": (T0 + timedelta(minutes=5)).isoformat(), "end": (T0 + timedelta(minutes=10)).isoformat(),
         "mean": 40.0, "min": 40.0, "max": 40.0, "state": "40", "count": 2},
    ]


async def test_history_without_a_recorder_says_so():
    hub = Hub()
    assert get_recorder(hub) is None
    with pytest.raises(RecorderUnavailable, match="not set up"):
        await states_between(hub, None, T0, T0 + timedelta(hours=1))


async def test_history_refuses_naive_times_and_empty_buckets(recorder_hub: RecorderHub):
    async with asyncio.timeout(30), recorder_hub() as hub:
        with pytest.raises(ValueError, match="timezone-aware"):
            await states_between(hub, None, datetime(2026, 1, 1), T0)
        with pytest.raises(ValueError, match="positive duration"):
            await states_between(hub, None, T0, T0 + timedelta(hours=1), bucket=timedelta(0))
