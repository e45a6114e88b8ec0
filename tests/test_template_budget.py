"""A render's time and size budget: templates that would block the loop or fill the memory fail fast,
naming the template; ordinary templates render as before."""

from __future__ import annotations

import time

import pytest

from orbiteos.core import Hub, SiteConfig
from orbiteos.errors import TemplateError
from orbiteos.limits import Limits
from orbiteos.template import _CODE_CACHE, _CODE_CACHE_SIZE, _COMPILED_CACHE_SIZE, Template, environment

NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"

TOO_BIG = [
    "{{ '{:>1000000000}'.format('x') }}",
    "{{ '{:>{}}'.format('x', 1000000000) }}",
    "{{ '{:.1000000000f}'.format(1.5) }}",
    "{{ '{0:>{w}}'.format_map({'w': 1000000000}) }}",
    "{{ 'x' * 1000000000 }}",
    "{{ [1] * 1000000000 }}",
    "{{ 2 ** 100000000 }}",
    "{{ '%1000000000s' % 'x' }}",
    "{{ '%*s' % (1000000000, 'x') }}",
    "{{ '%1000000000s' | format('x') }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ 'x' | indent(1000000000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ 'x'.zfill(1000000000) }}",
    "{{ ('\t' * 1000).expandtabs(1000000) }}",
    "{{ ('y' * 1000) | replace('', 'y' * 10000) }}",
    "{{ {'a': 1} | tojson(indent=1000000000) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
    "{% set ns = namespace(d={}) %}{% for i in range(40) %}{% set ns.d = dict(a=ns.d, b=ns.d) %}{% endfor %}x",
    "{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}",
    "{% set big %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}{{ big | length }}",
    "{{ ([['x' * 1000] * 1000] * 1000) | join(',') }}",
]


def _render_failing(source: str, limits: Limits | None = None) -> tuple[str, float]:
    hub = Hub(config=SiteConfig(limits=limits or Limits()))
    started = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        Template(source, hub).render()
    return str(caught.value), time.perf_counter() - started


def test_nested_loops_stop_at_the_time_budget_naming_the_template() -> None:
    message, _ = _render_failing(NESTED_LOOPS, Limits(template_render_seconds=0.2))
    assert message.startswith(f"template {NESTED_LOOPS!r} exceeded its render time budget of 0.2 s")
    assert "limits.template_render_seconds" in message


def test_exponential_macro_recursion_stops_at_the_time_budget() -> None:
    source = "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    message, _ = _render_failing(source, Limits(template_render_seconds=0.2))
    assert "render time budget" in message


@pytest.mark.parametrize("source", TOO_BIG)
def test_amplifiers_fail_before_they_build_the_value(source: str) -> None:
    message, _ = _render_failing(source)
    assert message.startswith("template ")
    assert "budget" in message


def test_the_output_budget_is_configurable() -> None:
    source = "{{ 'x' * 2000 }}"
    message, _ = _render_failing(source, Limits(template_max_output=1000))
    assert "2,000 characters, more than 1,000 (limits.template_max_output)" in message
    assert Template(source, Hub()).render() == "x" * 2000


def test_a_long_render_within_the_budget_is_not_cut_short() -> None:
    hub = Hub(config=SiteConfig(limits=Limits(template_render_seconds=30)))
    source = (
        "{% set ns = namespace(n=0) %}{% for a in range(300) %}{% for b in range(300) %}"
        "{% set ns.n = ns.n + 1 %}{% endfor %}{% endfor %}{{ ns.n }}"
    )
    assert Template(source, hub).render() == 90000


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ [1, 2, 3] | join('-') }}", "1-2-3"),
        ("{{ 'a' ~ 1 ~ none }}", "a1None"),
        ("{{ (1, 2) }}", (1, 2)),
        ("{{ {'a': [1, 2]} }}", {"a": [1, 2]}),
        ("{{ 3 * 4 }}-{{ 2 ** 10 }}-{{ 7 % 3 }}", "12-1024-1"),
        ("{{ '%05.1f' % 3.14159 }}", "003.1"),
        ("{{ '{:>5}|{:.2f}'.format('x', 2) }}", "x|2.00"),
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ [1, 2] + [3] }}", [1, 2, 3]),
        ("{% for x in [3, 1, 2] | sort %}{{ loop.index }}{{ x }}{{ ';' if not loop.last }}{% endfor %}", "11;22;33"),
        ("{% for a, b in {'k': 'v'}.items() %}{{ a }}={{ b }}{% else %}none{% endfor %}", "k=v"),
        ("{% for x in [] %}{{ x }}{% else %}none{% endfor %}", "none"),
        ("{{ 'x' | center(5) }}|{{ 'ab' | replace('a', 'cc') }}|{{ 'x'.rjust(3, '-') }}", "x  |ccb|--x"),
        ("{{ {'a': 1} | tojson }}", {"a": 1}),
        ("{{ '%s-%s' | format(1, 2) }}", "1-2"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: object) -> None:
    assert Template(source, Hub()).render() == expected


def test_the_compiled_template_cache_is_a_capped_lru() -> None:
    hub = Hub()
    env = environment(hub)
    kept = Template("{{ 'kept' }}", hub)
    kept.ensure_valid()
    for n in range(_COMPILED_CACHE_SIZE + 500):
        Template(f"{{{{ {n} + 1 }}}}", hub).render()
        if n % 1000 == 0:
            env.compile_source(kept.source)  # used now and then: stays
    assert len(env._compiled) <= _COMPILED_CACHE_SIZE
    assert len(env._native) <= _COMPILED_CACHE_SIZE
    assert len(_CODE_CACHE) <= _CODE_CACHE_SIZE
    assert kept.source in env._compiled
    assert "{{ 0 + 1 }}" not in env._compiled
    assert kept.render() == "kept"


def test_a_catastrophic_regular_expression_stops_at_the_time_budget() -> None:
    # With `re` this match runs for minutes (exponential backtracking) and cannot be stopped.
    source = "{{ ('a' * 40 ~ 'b') is match('(a|aa)+$') }}"
    message, _ = _render_failing(source, Limits(template_render_seconds=0.2))
    assert "render time budget of 0.2 s (limits.template_render_seconds) in a regular expression" in message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'abc123' | regex_replace('[0-9]+', 'X') }}", "abcX"),
        ("{{ 'Hello' is match('h', true) }}", True),
        ("{{ 'a1b2' | regex_search('[0-9]') }}", True),
        ("{{ 'a1b2' | regex_match('[0-9]') }}", False),
        ("{{ 'x-12-y-34' | regex_replace('(\\\\d+)', '<\\\\1>') }}", "x-<12>-y-<34>"),
    ],
)
def test_regex_helpers_answer_as_before(source: str, expected: object) -> None:
    assert Template(source, Hub()).render() == expected
