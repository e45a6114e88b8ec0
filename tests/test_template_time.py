"""`as_timedelta` and `relative_time`: results observed in Home Assistant 2024.3.3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orbiteos.clock import run_virtual
from orbiteos.core import Hub, SiteConfig
from orbiteos.template import Template
from orbiteos.template_time import as_timedelta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01:30:00", timedelta(hours=1, minutes=30)),
        ("1:30", timedelta(minutes=1, seconds=30)),
        ("90", timedelta(seconds=90)),
        ("1 day, 2:00:00", timedelta(days=1, hours=2)),
        ("-1 day, 23:00:00", timedelta(hours=-1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("-P1DT2H", -timedelta(days=1, hours=2)),
        ("P1,5D", timedelta(days=1.5)),
        ("3 days 04:05:06", timedelta(days=3, hours=4, minutes=5, seconds=6)),
        ("3 days", timedelta(days=3)),
        ("00:00:01.1234567", timedelta(seconds=1, microseconds=123456)),
        ("", timedelta(0)),
        ("abc", None),
        ("+10", None),
        ("1:2:3:4", None),
        ("P1Y", None),
    ],
)
def test_as_timedelta_reads_what_home_assistant_reads(text: str, expected: timedelta | None) -> None:
    assert as_timedelta(text) == expected


def test_relative_time_gives_the_largest_unit_and_leaves_the_future_alone() -> None:
    async def main(clock: object) -> list[object]:
        hub = Hub(clock, SiteConfig(time_zone="Europe/Amsterdam"))  # type: ignore[arg-type]
        sources = [
            "{{ relative_time(now() - timedelta(hours=2, minutes=40)) }}",
            "{{ relative_time(now() - timedelta(seconds=1)) }}",
            "{{ relative_time(now() - timedelta(days=45)) }}",
            "{{ (now() - timedelta(days=800)) | relative_time }}",
            "{{ relative_time(now() + timedelta(days=1)) > now() }}",
            "{{ relative_time('x') }}",
        ]
        return [Template(source, hub).render() for source in sources]

    assert run_virtual(main, datetime(2026, 6, 1, 12, tzinfo=UTC)) == [
        "3 hours", "1 second", "2 months", "2 years", True, "x"]


def test_relative_time_is_re_rendered_with_the_clock() -> None:
    _, info = Template("{{ relative_time(states.sensor.x.last_changed) }}", Hub()).render_tracked()
    assert info.uses_time


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ as_datetime('2024-01-01 10:00') }}", "2024-01-01 10:00:00"),  # no offset: stays naive
        ("{{ as_datetime('2024-01-01T10:00:00+02:00') }}", "2024-01-01 10:00:00+02:00"),
        ("{{ as_datetime('5') }}", "1970-01-01 00:00:05+00:00"),
        ("{{ as_datetime('x') }}", None),  # a string that is no date: None, not an error
        ("{{ as_datetime('x', 5) }}", 5),
        ("{{ as_datetime(' 2024-01-01 ') }}", None),
    ],
)
def test_as_datetime_reads_strings_as_home_assistant(source: str, expected: object) -> None:
    assert Template(source).render() == expected
