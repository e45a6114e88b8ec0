"""Statistics, trigonometry and bitwise helpers: results observed in Home Assistant 2024.3.3."""

from __future__ import annotations

import math

import pytest

from orbiteos.errors import TemplateError
from orbiteos.template import Template


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ [] | average(5) }}", 5),
        ("{{ average([], default=3) }}", 3),
        ("{{ average('abc', 2) }}", 2),
        ("{{ average([1, 2], 9) }}", 1.5),
        ("{{ average(1, 2, 4) }}", 7 / 3),
        ("{{ [1, 3, 2, 7] | median }}", 2.5),
        ("{{ median(3, 1, 2) }}", 2),
        ("{{ median([], 0) }}", 0),
        ("{{ [1, 1, 2] | statistical_mode }}", 1),
        ("{{ statistical_mode('aab') }}", "a"),
        ("{{ statistical_mode('aab', 'x') }}", "aab"),  # a string is no list: both are the values
        ("{{ statistical_mode([], 'x') }}", "x"),
        ("{{ 5 | bitwise_and(3) }}", 1),
        ("{{ 5 | bitwise_or(3) }}", 7),
        ("{{ 5 | bitwise_xor(3) }}", 6),
        ("{{ 'x' | cos(7) }}", 7),
        ("{{ (1, 2) | atan2 }}", math.atan2(1, 2)),
        ("{{ atan2(1, 'x', 3) }}", 3),
        ("{{ tau }}", math.tau),
    ],
)
def test_helpers_give_what_home_assistant_gives(source: str, expected: object) -> None:
    assert Template(source).render() == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ average(['1', '2']) }}",  # strings are not converted
        "{{ average(1, '2') }}",
        "{{ average(5) }}",  # one number is not iterable
        "{{ median([]) }}",
        "{{ statistical_mode([]) }}",
        "{{ 'x' | sin }}",
    ],
)
def test_helpers_without_a_default_fail_on_what_has_no_result(source: str) -> None:
    with pytest.raises(TemplateError):
        Template(source).render()
