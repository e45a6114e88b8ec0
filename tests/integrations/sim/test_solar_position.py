from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orbiteos.integrations.sim.solar_position import ClearSkyTable, clear_sky_plane_irradiance, sun_position

UTRECHT = (52.09, 5.12)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_midsummer_noon_elevation_is_ninety_minus_latitude_plus_tilt_of_earth() -> None:
    # Solar noon at 5.12 E on 21 June is about 11:41 UTC.
    sun = sun_position(_ts("2026-06-21T11:41:00"), *UTRECHT)
    assert sun.elevation_deg == pytest.approx(90 - 52.09 + 23.44, abs=0.2)
    assert sun.azimuth_deg == pytest.approx(180, abs=2)


def test_midwinter_noon_elevation_is_low_and_the_sun_is_down_at_night() -> None:
    assert sun_position(_ts("2026-12-21T11:45:00"), *UTRECHT).elevation_deg == pytest.approx(14.5, abs=0.3)
    assert sun_position(_ts("2026-12-21T23:00:00"), *UTRECHT).elevation_deg < -40


def test_morning_sun_is_in_the_east_and_evening_sun_in_the_west() -> None:
    morning = sun_position(_ts("2026-03-20T07:00:00"), *UTRECHT)
    evening = sun_position(_ts("2026-03-20T17:00:00"), *UTRECHT)
    assert 80 < morning.azimuth_deg < 130
    assert 230 < evening.azimuth_deg < 280


def test_clear_sky_irradiance_is_plausible_and_zero_at_night() -> None:
    summer = clear_sky_plane_irradiance(sun_position(_ts("2026-06-21T11:41:00"), *UTRECHT), 0, 180)[0]
    assert 800 < summer < 1000
    night = clear_sky_plane_irradiance(sun_position(_ts("2026-06-21T23:00:00"), *UTRECHT), 30, 180)
    assert night == (0.0, 0.0)


def test_a_south_panel_gets_more_at_noon_than_a_north_panel() -> None:
    sun = sun_position(_ts("2026-11-24T11:40:00"), *UTRECHT)
    south = clear_sky_plane_irradiance(sun, 35, 180)[0]
    north = clear_sky_plane_irradiance(sun, 35, 0)[0]
    assert south > 2 * north


def test_the_day_table_matches_the_direct_formula() -> None:
    table = ClearSkyTable(*UTRECHT, 30, 180)
    for text in ("2026-06-21T05:00:30", "2026-06-21T11:41:10", "2026-06-21T18:59:59"):
        ts = _ts(text)
        direct = clear_sky_plane_irradiance(sun_position(ts, *UTRECHT), 30, 180)[0]
        assert table.at(ts)[0] == pytest.approx(direct, abs=3.0)
