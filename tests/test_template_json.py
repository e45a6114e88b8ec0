"""`to_json` writes the text Home Assistant 2024.3.3's orjson writes (each expectation came from it)."""

from __future__ import annotations

import pytest

from orbiteos.template_json import format_float, to_json


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e16, "1e16"),
        (1e15, "1000000000000000.0"),
        (123456789012345678.0, "1.2345678901234568e17"),
        (1e-5, "0.00001"),
        (1e-4, "0.0001"),
        (1.5e-7, "1.5e-7"),
        (-1.5e-7, "-1.5e-7"),
        (2.5e300, "2.5e300"),
        (-0.0, "-0.0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (100.0, "100.0"),
        (5e-324, "5e-324"),
        (12345.678, "12345.678"),
    ],
)
def test_floats_are_written_as_orjson_writes_them(value: float, expected: str) -> None:
    assert format_float(value) == expected


def test_pretty_and_sorted_output_is_home_assistants() -> None:
    value = {"z": 1, "a": {"y": [1.5e-7, None, {}], "b": []}, "ü": "tab\t😀"}
    assert to_json(value) == '{"z":1,"a":{"y":[1.5e-7,null,{}],"b":[]},"ü":"tab\\t😀"}'
    assert to_json(value, pretty_print=True, sort_keys=True) == (
        '{\n  "a": {\n    "b": [],\n    "y": [\n      1.5e-7,\n      null,\n      {}\n    ]\n  },\n'
        '  "z": 1,\n  "ü": "tab\\t😀"\n}'
    )


def test_non_json_values_and_huge_integers_are_errors_and_non_finite_floats_null() -> None:
    assert to_json([float("nan"), float("inf")]) == "[null,null]"
    assert to_json({1: "x", None: "y", 2.5: "z", False: "w"}) == '{"1":"x","null":"y","2.5":"z","false":"w"}'
    for value in ({1, 2}, 2**64, b"bytes"):
        with pytest.raises(TypeError):
            to_json(value)
