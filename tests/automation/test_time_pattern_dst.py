"""time_pattern moments across the clock changes of Europe/Amsterdam in 2026."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from orbiteos.automation.triggers.time_pattern import allowed_values, next_matching

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
EVERY_10_S = (allowed_values("*", 23), allowed_values("*", 59), allowed_values("/10", 59))


def moments(start_utc: datetime, count: int) -> list[datetime]:
    after, found = start_utc.astimezone(AMSTERDAM), []
    for _ in range(count):
        after = next_matching(after, *EVERY_10_S)
        found.append(after)
    return found


def test_a_start_inside_the_repeated_hour_never_yields_a_moment_in_the_past() -> None:
    # 01:30:05 UTC is 02:30:05 CET, the second time that wall-clock time comes on 25 October. The
    # first 02:30:10 was an hour earlier: returning it made the trigger fire at once, over and over.
    start = datetime(2026, 10, 25, 1, 30, 5, tzinfo=UTC)
    found = moments(start, 4)
    assert [m.astimezone(UTC).isoformat() for m in found] == [
        "2026-10-25T01:30:10+00:00", "2026-10-25T01:30:20+00:00", "2026-10-25T01:30:30+00:00",
        "2026-10-25T01:30:40+00:00",
    ]


def test_running_through_the_fall_back_goes_forward_in_time() -> None:
    found = moments(datetime(2026, 10, 25, 0, 59, 35, tzinfo=UTC), 4)
    instants = [m.timestamp() for m in found]
    assert instants == sorted(instants)
    assert found[1].isoformat() == "2026-10-25T02:59:50+02:00"
    assert found[2].isoformat() == "2026-10-25T03:00:00+01:00"  # each wall-clock time once


def test_the_spring_forward_gap_is_skipped() -> None:
    found = moments(datetime(2026, 3, 29, 0, 59, 45, tzinfo=UTC), 2)
    assert [m.isoformat() for m in found] == ["2026-03-29T01:59:50+01:00", "2026-03-29T03:00:00+02:00"]


def test_a_time_that_the_spring_change_skips_does_not_fire_that_day() -> None:
    half_past_two = (allowed_values("2", 23), allowed_values("30", 59), allowed_values("0", 59))
    after = datetime(2026, 3, 29, 0, 0, tzinfo=AMSTERDAM)
    found = next_matching(after, *half_past_two)
    assert found.isoformat() == "2026-03-30T02:30:00+02:00" and found.timestamp() > after.timestamp()
    # The autumn night: 02:30 comes twice on the clock and fires once, at the first.
    first = next_matching(datetime(2026, 10, 25, 0, 0, tzinfo=AMSTERDAM), *half_past_two)
    second = next_matching(first, *half_past_two)
    assert first.isoformat() == "2026-10-25T02:30:00+02:00"
    assert second.isoformat() == "2026-10-26T02:30:00+01:00"
