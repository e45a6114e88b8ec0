from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orbiteos.clock import run_virtual
from orbiteos.core import Hub, SiteConfig
from orbiteos.errors import TemplateError
from orbiteos.template import Template, is_template_string, render_bool, render_complex


def render(source: str, hub: Hub | None = None, **variables: object) -> object:
    return Template(source, hub).render(variables)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ '0.25' }}", 0.25),
        ("{{ 5 }}", 5),
        ("{{ '[1, 2]' }}", [1, 2]),
        ("{{ {'a': 1} }}", {"a": 1}),
        ("{{ 'True' }}", True),
        ("{{ 'None' }}", None),
        ("{{ '007' }}", "007"),
        ("{{ '0.50' }}", 0.5),
        ("{{ '1e5' }}", "1e5"),
        ("{{ '1_000' }}", "1_000"),
        ("{{ '-3' }}", -3),
        ("{{ 'on' }}", "on"),
        ("{{ '\"quoted\"' }}", '"quoted"'),
        ("  {{ 1 + 1 }}  ", 2),
        ("plain text", "plain text"),
        ("42", 42),
    ],
)
def test_renders_native_types_as_home_assistant(source: str, expected: object) -> None:
    assert render(source) == expected


def test_render_str_keeps_text() -> None:
    assert Template("{{ 0.25 }}").render_str() == "0.25"


async def test_state_helpers_read_the_hub() -> None:
    hub = Hub()
    hub.states.set("sensor.grid", "3.5", {"unit_of_measurement": "kW", "phase": 1})
    hub.states.set("sensor.off", "unavailable")
    assert render("{{ states('sensor.grid') }}", hub) == 3.5
    assert render("{{ states('sensor.none') }}", hub) == "unknown"
    assert render("{{ states.sensor.grid.state }}", hub) == 3.5
    assert render("{{ states.sensor.grid.attributes.phase }}", hub) == 1
    assert render("{{ states.sensor.missing }}", hub) is None
    assert render("{{ is_state('sensor.grid', '3.5') }}", hub) is True
    assert render("{{ is_state('sensor.grid', ['1', '3.5']) }}", hub) is True
    assert render("{{ state_attr('sensor.grid', 'phase') }}", hub) == 1
    assert render("{{ is_state_attr('sensor.grid', 'phase', 1) }}", hub) is True
    assert render("{{ has_value('sensor.grid') }} {{ has_value('sensor.off') }}", hub) == "True False"
    assert render("{{ states('sensor.grid', with_unit=True) }}", hub) == "3.5 kW"
    assert render("{{ states.sensor | map(attribute='entity_id') | list }}", hub) == ["sensor.grid", "sensor.off"]


def test_float_without_default_on_a_non_number_is_an_error_naming_the_template() -> None:
    with pytest.raises(TemplateError, match=r"float got invalid input 'unavailable'.*states\('x.y'\)|states"):
        render("{{ states('x.y') | float }}")
    with pytest.raises(TemplateError, match="no default"):
        render("{{ float('abc') }}")
    with pytest.raises(TemplateError, match="int got invalid input"):
        render("{{ 'abc' | int }}")


def test_float_and_int_with_default_return_it() -> None:
    assert render("{{ 'abc' | float(0) }}") == 0
    assert render("{{ float('abc', 1.5) }}") == 1.5
    assert render("{{ 'x' | int(-1) }}") == -1
    assert render("{{ '2.7' | int }}") == 2
    assert render("{{ 'on' | bool }}") is True
    assert render("{{ bool('maybe', false) }}") is False


def test_math_helpers() -> None:
    assert render("{{ 2.456 | round(1) }}") == 2.5
    assert render("{{ 2.4 | round(0, 'ceil') }}") == 3
    assert render("{{ min(3, 1, 2) }} {{ max([3, 1, 2]) }}") == "1 3"
    assert render("{{ iif(true, 'yes', 'no') }}") == "yes"
    assert render("{{ iif(none, 'y', 'n', 'none') }}") == "none"
    assert render("{{ is_number('1.5') }} {{ is_number('nan') }} {{ '2' is is_number }}") == "True False True"
    assert render("{{ [1, 2, 3] | average }}") == 2.0


def test_syntax_error_is_a_template_error_with_the_text() -> None:
    with pytest.raises(TemplateError, match=r"\{\{ 1 \+ \}\}"):
        Template("{{ 1 + }}").ensure_valid()


def test_sandbox_refuses_private_attributes() -> None:
    with pytest.raises(TemplateError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}")


def test_now_uses_the_hub_clock_in_the_site_time_zone() -> None:
    async def main(clock):  # noqa: ANN001, ANN202
        hub = Hub(clock, SiteConfig(time_zone="Europe/Amsterdam"))
        assert render("{{ now().hour }}", hub) == 14  # CEST
        assert render("{{ utcnow().hour }}", hub) == 12
        assert render("{{ today_at('06:30').isoformat() }}", hub) == "2026-06-01T06:30:00+02:00"
        assert render("{{ (now() + timedelta(hours=1)).hour }}", hub) == 15
        assert render("{{ as_timestamp(utcnow()) }}", hub) == datetime(2026, 6, 1, 12, tzinfo=UTC).timestamp()
        assert render("{{ as_datetime('2026-06-01T10:00:00+00:00').hour }}", hub) == 10
        await clock.sleep(3600)
        assert render("{{ now().hour }}", hub) == 15

    run_virtual(main, datetime(2026, 6, 1, 12, tzinfo=UTC))


def test_render_complex_renders_nested_data_and_leaves_plain_strings() -> None:
    data = {"power_kw": "{{ x * 2 }}", "mode": "007", "list": ["{{ x }}", 3], "nested": {"a": "{{ 'b' }}"}}
    assert render_complex(data, {"x": 1.5}) == {"power_kw": 3.0, "mode": "007", "list": [1.5, 3], "nested": {"a": "b"}}


def test_is_template_string() -> None:
    assert is_template_string("{{ x }}")
    assert is_template_string("{% if x %}1{% endif %}")
    assert not is_template_string("{x}")
    assert not is_template_string("plain")


def test_render_bool_follows_home_assistant_truthiness() -> None:
    assert render_bool(Template("{{ 1 }}")) is True
    assert render_bool(Template("{{ 'on' }}")) is True
    assert render_bool(Template("{{ 0 }}")) is False
    assert render_bool(Template("{{ 'banana' }}")) is False
    assert render_bool(Template("{{ none }}")) is False


def test_compiled_templates_are_cached_per_hub() -> None:
    hub = Hub()
    first, second = Template("{{ 1 }}", hub), Template("{{ 1 }}", hub)
    first.ensure_valid()
    second.ensure_valid()
    assert first._compiled is second._compiled
    assert Template("{{ x }}", hub).render({"x": timedelta(seconds=5)}) == "0:00:05"


async def test_render_tracked_reports_what_the_template_read() -> None:
    hub = Hub()
    hub.states.set("sensor.a", "1")
    template = Template("{{ states('sensor.a') | int + (states('sensor.b') | int(0)) }} {{ now().year > 0 }}", hub)
    value, info = template.render_tracked()
    assert value == "1 True"
    assert template.entities == {"sensor.a", "sensor.b"} and info.uses_time
    _, info = Template("{{ states.sensor | list | count }}", hub).render_tracked()
    assert info.domains == {"sensor"}


def test_sandbox_still_refuses_unsafe_calls_on_the_fast_call_path() -> None:
    # Builtin methods and our own helpers are called directly; everything else still goes
    # through the sandbox, which refuses mutating methods of the immutable sandbox.
    with pytest.raises(TemplateError):
        render("{{ items.append(3) }}", items=[1, 2])
    with pytest.raises(TemplateError):
        render("{{ mapping.clear() }}", mapping={"a": 1})
    assert render("{{ '{0.__class__}'.format(1) }}") == ""  # the sandbox's formatter hides it
    assert render("{{ mapping.get('a') }}", mapping={"a": 1}) == 1
    assert render("{{ 'a,b'.split(',') }}") == ["a", "b"]


def test_helpers_called_inside_loops_and_namespaces() -> None:
    # Calls inside a loop carry Jinja's loop variables, which the direct call must drop.
    source = "{% set ns = namespace(t=0) %}{% for x in xs %}{% set ns.t = ns.t + float(x, 0) %}{% endfor %}{{ ns.t }}"
    assert render(source, xs=["1.5", "x", 2]) == 3.5
    assert render("{% for i in range(3) %}{{ max(i, 1) }}{% endfor %}") == 112


def test_variables_win_over_globals_and_globals_stay_visible() -> None:
    assert render("{{ float }}", float="shadowed") == "shadowed"
    assert render("{{ float('2.5') + pi | round(0) }}") == 5.5
    assert render("{{ undefined_name is defined }}") is False


def test_rendered_words_stay_text_render_after_render() -> None:
    # A word is parsed once and remembered as text (a cache miss would compile it every time).
    template = Template("{{ word }}")
    for _ in range(3):
        assert template.render({"word": "cheap"}) == "cheap"
        assert template.render({"word": "None"}) is None
        assert template.render({"word": "[1]"}) == [1]


def test_rendered_containers_are_fresh_copies_every_render() -> None:
    template = Template("{{ \"[[1], {'a': [2]}, (3, [4])]\" }}")
    first = template.render()
    assert first == [[1], {"a": [2]}, (3, [4])]
    first[0].append("changed")
    first[1]["a"].append("changed")
    first[2][1].append("changed")
    assert template.render() == [[1], {"a": [2]}, (3, [4])]
    static = Template("[1, 2]")
    static.render().append(3)
    assert static.render() == [1, 2]


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 1e-5, 1e-4, -1e-4, 0.1 + 0.2, 12.5, -3.25, 1e15, 9999999999999998.0, 1e16, 1e20, float("nan"),
     float("inf"), float("-inf"), 0, -7, 10**30, True, False, None, "12.5", " 5 ", "007", "on", "1e5", "[1, 2]",
     "None", "", [1, "a"], {"a": 1}, (1, 2)],
)
def test_a_single_expression_renders_as_its_text_would_parse(value: object) -> None:
    # `{{ x }}` hands a number over as it is; that must be exactly what rendering it to text and
    # parsing the text gives (Home Assistant's rule), which render_str + parse_result still do.
    from orbiteos.template import parse_result

    template = Template("{{ x }}")
    native, via_text = template.render({"x": value}), parse_result(template.render_str({"x": value}))
    if isinstance(via_text, float) and via_text != via_text:
        assert isinstance(native, float) and native != native
    else:
        assert native == via_text and type(native) is type(via_text)


def test_a_single_expression_with_an_undefined_name_or_an_error() -> None:
    assert render("{{ missing }}") == ""
    with pytest.raises(TemplateError, match="float got invalid input"):
        render("{{ 'x' | float }}")


def test_a_number_too_long_to_print_is_a_template_error_as_when_rendered_to_text() -> None:
    for source in ("{{ 10 ** big }}", "{{ [10 ** big] }}", "{{ {'a': 10 ** big} }}"):
        with pytest.raises(TemplateError):
            render(source, big=5000)
    assert render("{{ 10 ** 30 }}") == 10**30


async def test_attribute_keys_named_like_dunders_stay_hidden_and_cached_tuples_stay_intact() -> None:
    hub = Hub()
    hub.states.set("sensor.odd", "1", {"__class__": "k", "phase": 2})
    assert render("{{ states.sensor.odd.attributes.__class__ }}", hub) == ""
    assert render("{{ states.sensor.odd.attributes.phase }}", hub) == 2
    template = Template("{{ '(1, [2])' }}")
    template.render()[1].append(99)
    assert template.render() == (1, [2])
