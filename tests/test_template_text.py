"""Text helpers (regular expressions, slugs, JSON): results observed in Home Assistant 2024.3.3."""

# to_json lives in orbiteos.template_json; its float layout has its own test in test_template_json.py.

from __future__ import annotations

import pytest

from orbiteos.errors import TemplateError
from orbiteos.template import Template


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"{{ 'a1b22c333' | regex_findall('\\d+') }}", ["1", "22", "333"]),
        (r"{{ 'a1b22c333' | regex_findall_index('\\d+', 1) }}", 22),
        (r"{{ 'A1a2' | regex_findall('a\\d', true) }}", ["A1", "a2"]),
        (r"{{ 'x=1,y=2' | regex_findall('(\\w)=(\\d)') }}", [("x", "1"), ("y", "2")]),
        ("{{ 'Überschuß laden!' | slugify }}", "uberschuss_laden"),
        ("{{ slugify('A b', '-') }}", "a-b"),
        ("{{ '' | slugify }}", ""),
        ("{{ '!!' | slugify }}", "unknown"),
        ("{{ 12 | ordinal }}", "12th"),
        ("{{ 23 | ordinal }}", "23rd"),
        ("{{ 'hi' | base64_encode | base64_decode }}", "hi"),
        ("{{ pack(1, '>I') | unpack('>I') }}", 1),
        ("{{ 'x' | pack('>I') }}", None),  # logged, as Home Assistant
        ("{{ urlencode({'a': 'b c'}) }}", b"a=b+c"),
        ("{{ 5 | is_defined }}", 5),
        ("{{ [[1] is list, (1,) is tuple, set([1]) is set, now() is datetime, 'a' is string_like] }}",
         [True, True, True, True, True]),
        ("{{ tuple([1, 2]) }}", (1, 2)),
    ],
)
def test_text_helpers_give_what_home_assistant_gives(source: str, expected: object) -> None:
    assert Template(source).render() == expected


@pytest.mark.parametrize(
    "source",
    [
        r"{{ 'a1b22' | regex_findall_index('\\d+', 5) }}",  # fewer matches than the index
        "{{ 12 | slugify }}",  # only text has a slug
        "{{ now() | to_json }}",  # a datetime is not JSON data
        "{{ nope | is_defined }}",
    ],
)
def test_text_helpers_fail_as_home_assistant(source: str) -> None:
    with pytest.raises(TemplateError):
        Template(source).render()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ {'a': 'ü', 'b': [1, 2]} | to_json }}", '{"a":"ü","b":[1,2]}'),
        ("{{ {'a': 'ü'} | to_json(ensure_ascii=True) }}", '{"a": "\\u00fc"}'),
        ("{{ {'b': 1, 'a': 2} | to_json(sort_keys=True) }}", '{"a":2,"b":1}'),
        ("{{ {'a': 1, 'b': [1, {'c': none}]} | to_json(pretty_print=True) }}",
         '{\n  "a": 1,\n  "b": [\n    1,\n    {\n      "c": null\n    }\n  ]\n}'),
        ("{{ {1: 2, none: 3} | to_json }}", '{"1":2,"null":3}'),
        ("{{ (1, 2) | to_json }}", "[1,2]"),
    ],
)
def test_to_json_is_compact_and_keeps_non_ascii(source: str, expected: str) -> None:
    assert Template(source).render_str() == expected


def test_to_json_writes_state_attributes_as_an_object() -> None:
    from orbiteos.core import Hub

    hub = Hub()
    hub.states.set("battery.main", "-2.5", {"soc": 50, "mode": "über"})
    assert Template("{{ states.battery.main.attributes | to_json }}", hub).render_str() == '{"soc":50,"mode":"über"}'
