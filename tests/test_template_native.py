"""The fast path for plain numbers gives exactly what Home Assistant's literal_eval rule gives."""

from __future__ import annotations

from ast import literal_eval

import pytest

from orbiteos.template import _IS_NUMERIC, parse_result


def _home_assistant_rule(text: str) -> object:
    try:
        result = literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(result, str | complex):
        return text
    if isinstance(result, int | float) and not isinstance(result, bool) and _IS_NUMERIC.match(text) is None:
        return text
    return result


@pytest.mark.parametrize(
    "text",
    ["0", "5", "-5", "+5", "007", "-0", "0.0", "-0.0", "5.", "5.5", ".5", "-.5", "00.5", "1e3", "1_000",
     "10.000000000000004", "+.5", "-", "+", "", ".", "0x1", "1.2.3", "123456789012345678901234567890",
     "00", "\u0665", "7.105427357601002e-15", "True", "[1, 2]"],
)
def test_plain_number_fast_path_matches_the_literal_eval_rule(text: str) -> None:
    expected = _home_assistant_rule(text)
    got = parse_result(text)
    assert type(got) is type(expected)
    assert got == expected


@pytest.mark.parametrize(
    ("source", "variables", "expected"),
    [
        ("{{ yield_kw + 1 }}", {"yield_kw": 2}, 3),  # a name holding 'yield'
        ("{{ 'yield' }}", {}, "yield"),
        ("{{ a +\n b }}", {"a": 1.5, "b": 2}, 3.5),  # an expression over two lines
        ("{{ [1, 2] | map('string') | list }}", {}, ["1", "2"]),
        ("{{ x if y }}", {"x": 4, "y": False}, ""),
    ],
)
def test_a_single_expression_is_returned_by_a_plain_function(source: str, variables: dict, expected: object) -> None:
    """The native form of `{{ expression }}` returns its value (no generator per render), and
    renders what the text form renders."""
    import inspect

    from orbiteos.core import Hub
    from orbiteos.template import Template, environment, parse_result

    hub = Hub()
    template = Template(source, hub)
    native = environment(hub).compile_native(source)
    assert native is not None and not inspect.isgeneratorfunction(native.root_render_func)
    assert template.render(variables) == expected == parse_result(template.render_str(variables))


@pytest.mark.parametrize(
    "value",
    [[], ["ev_charger.depot"], ["a", "b'c", 'd"e', "\u00e9", "\x00", "\ud800"], [1, -2, 0, 10**30],
     [1.5, -0.0, 1e-05, 1e16, 0.1 + 0.2], [True, False, None], [float("nan")], [float("inf")],
     [["nested"]], [(1, 2)], [{"a": 1}], [10**5000]],
)
def test_a_rendered_list_is_what_its_text_parses_to(value: list) -> None:
    from orbiteos.core import Hub
    from orbiteos.errors import TemplateError
    from orbiteos.template import Template, parse_result

    template = Template("{{ items }}", Hub())
    try:
        expected = parse_result(template.render_str({"items": value}))
    except TemplateError:
        with pytest.raises(TemplateError):
            template.render({"items": value})
        return
    rendered = template.render({"items": value})
    assert rendered == expected or (rendered != rendered and expected != expected)
    assert type(rendered) is type(expected)
    if isinstance(expected, list):
        assert [type(item) for item in rendered] == [type(item) for item in expected]
        assert [repr(item) for item in rendered] == [repr(item) for item in expected]  # -0.0 stays -0.0
        assert rendered is not value  # a fresh list, never the variable itself
