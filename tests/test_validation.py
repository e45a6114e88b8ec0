from __future__ import annotations

from datetime import time, timedelta

import pytest
import voluptuous as vol

from orbiteos import validation as v


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, timedelta(seconds=30)),
        ("00:01:30", timedelta(minutes=1, seconds=30)),
        ("05:00", timedelta(minutes=5)),
        ("2.5", timedelta(seconds=2.5)),
        ({"minutes": 2, "seconds": 5}, timedelta(minutes=2, seconds=5)),
    ],
)
def test_time_period_accepts_home_assistant_forms(value: object, expected: timedelta) -> None:
    assert v.time_period(value) == expected


def test_time_period_names_bad_keys() -> None:
    with pytest.raises(vol.Invalid, match="found hourz"):
        v.time_period({"hourz": 1})


def test_entity_ids_splits_and_lowercases() -> None:
    assert v.entity_ids("Sensor.A, sensor.b") == ["sensor.a", "sensor.b"]


def test_entity_id_says_what_was_found() -> None:
    with pytest.raises(vol.Invalid, match="found 'not an id'"):
        v.entity_id("not an id")


def test_entity_domain_filters() -> None:
    assert v.entity_domain("battery")("battery.main") == "battery.main"
    with pytest.raises(vol.Invalid, match="domain battery"):
        v.entity_domain("battery")("pv.roof")


def test_time_of_day_undoes_yaml_sexagesimal() -> None:
    assert v.time_of_day_value(750) == time(12, 30)
    assert v.time_of_day_value("07:05:09") == time(7, 5, 9)
    with pytest.raises(vol.Invalid, match="HH:MM"):
        v.time_of_day_value("25:00")


def test_boolean_words() -> None:
    assert v.boolean("on") is True
    assert v.boolean("No") is False
    with pytest.raises(vol.Invalid, match="boolean"):
        v.boolean("maybe")
