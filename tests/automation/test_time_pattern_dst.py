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


def _wall_clock_by_scanning(after: datetime, hours: list[int], minutes: list[int], seconds: list[int]) -> datetime:
    """The reference: every hour, minute and second counted through in order (as the search did
    before it used bisection)."""
    from datetime import timedelta

    start = after.replace(microsecond=0, fold=0) + timedelta(seconds=1)
    for day in range(3):
        date = (start + timedelta(days=day)).date()
        for hour in hours:
            for minute in minutes:
                for second in seconds:
                    candidate = (hour, minute, second)
                    if day == 0 and candidate < (start.hour, start.minute, start.second):
                        continue
                    return datetime(date.year, date.month, date.day, hour, minute, second, tzinfo=after.tzinfo)
    raise AssertionError("no match")


def test_the_wall_clock_search_agrees_with_counting_through() -> None:
    import random
    from datetime import timedelta

    from orbiteos.automation.triggers.time_pattern import _next_wall_clock_match

    rng = random.Random(20261202)

    def pattern(maximum: int) -> str:
        return rng.choice(["*", f"/{rng.randint(1, maximum)}", str(rng.randint(0, maximum))])

    for _ in range(400):
        units = allowed_values(pattern(23), 23), allowed_values(pattern(59), 59), allowed_values(pattern(59), 59)
        after = datetime(2026, 10, 24, tzinfo=AMSTERDAM) + timedelta(
            seconds=rng.randint(0, 3 * 86_400), microseconds=rng.choice([0, 500_000]))
        assert _next_wall_clock_match(after, *units) == _wall_clock_by_scanning(after, *units), (units, after)
