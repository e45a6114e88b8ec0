"""`expand`, `state_translated` and the order of `states`: results observed in Home Assistant 2024.3.3."""

from __future__ import annotations

import pytest

from orbiteos.core import Hub
from orbiteos.template import Template

STATES: list[tuple[str, str, dict[str, object]]] = [
    ("sensor.b", "1", {}),
    ("sensor.a", "2", {}),
    ("group.g", "on", {"entity_id": ["sensor.b", "group.h", "sensor.zz"]}),
    ("group.h", "on", {"entity_id": ["sensor.a", "sensor.c"]}),
    ("sensor.c", "3", {}),
    ("binary_sensor.door", "on", {"device_class": "door"}),
    ("binary_sensor.x", "off", {}),
    ("binary_sensor.w", "off", {"device_class": "weird"}),
    ("switch.x", "off", {}),
    ("zone.home", "1", {"persons": ["sensor.c"]}),
    ("automation.q", "on", {}),
    ("battery.main", "-2.5", {"soc": 50}),
]


@pytest.fixture
def hub() -> Hub:
    hub = Hub()
    for entity_id, state, attributes in STATES:
        hub.states.set(entity_id, state, attributes)
    return hub


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Creation order, not sorted.
        ("{{ states.sensor | map(attribute='entity_id') | list }}", ["sensor.b", "sensor.a", "sensor.c"]),
        ("{{ (states | map(attribute='entity_id') | list)[:3] }}", ["sensor.b", "sensor.a", "group.g"]),
        # The search takes the last argument first; groups nest; unknown members are skipped.
        ("{{ expand('sensor.c', 'sensor.a') | map(attribute='entity_id') | list }}", ["sensor.a", "sensor.c"]),
        ("{{ expand('group.g') | map(attribute='entity_id') | list }}", ["sensor.c", "sensor.a", "sensor.b"]),
        ("{{ 'group.g' | expand | map(attribute='entity_id') | list }}", ["sensor.c", "sensor.a", "sensor.b"]),
        ("{{ expand(['sensor.a', 'group.h'], 'sensor.b') | map(attribute='entity_id') | list }}",
         ["sensor.b", "sensor.c", "sensor.a"]),
        ("{{ expand('zone.home') | map(attribute='entity_id') | list }}", ["sensor.c"]),
        ("{{ expand(states.sensor.a) | map(attribute='entity_id') | list }}", ["sensor.a"]),
        ("{{ expand(states.sensor) | map(attribute='entity_id') | list }}", ["sensor.c", "sensor.a", "sensor.b"]),
        ("{{ expand('nope.x', 5, none) | list }}", []),
        ("{{ expand('sensor.a', 'sensor.a') | list | count }}", 1),
        ("{{ expand('battery.main') | map(attribute='state') | first }}", -2.5),
        ("{{ state_translated('binary_sensor.door') }}", "Open"),
        ("{{ state_translated('binary_sensor.x') }}", "Off"),
        ("{{ state_translated('binary_sensor.w') }}", "Off"),
        ("{{ 'switch.x' | state_translated }}", "Off"),
        ("{{ state_translated('automation.q') }}", "On"),
        ("{{ state_translated('sensor.a') }}", 2),
        ("{{ state_translated('battery.main') }}", -2.5),
        ("{{ state_translated('sensor.nope') }}", "unknown"),
    ],
)
def test_entity_helpers_give_what_home_assistant_gives(hub: Hub, source: str, expected: object) -> None:
    assert Template(source, hub).render() == expected


def test_a_recreated_entity_iterates_last(hub: Hub) -> None:
    hub.states.remove("sensor.b")
    hub.states.set("sensor.b", "5")
    assert Template("{{ states.sensor | map(attribute='entity_id') | list }}", hub).render() == [
        "sensor.a", "sensor.c", "sensor.b"]


def test_expand_tracks_the_group_and_its_members(hub: Hub) -> None:
    _, info = Template("{{ expand('group.g') | map(attribute='state') | list }}", hub).render_tracked()
    assert info.entities == {"group.g", "group.h", "sensor.a", "sensor.b", "sensor.c", "sensor.zz"}
    assert not info.domains


def test_counting_a_domain_tracks_its_lifecycle_only(hub: Hub) -> None:
    _, info = Template("{{ states.sensor | count }}", hub).render_tracked()
    assert info.domains_lifecycle == {"sensor"} and not info.domains
