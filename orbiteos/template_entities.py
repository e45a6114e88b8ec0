"""Template helpers over entities, as Home Assistant 2024.3 defines them: `expand` and `state_translated`.

They read states through the callables the template environment gives them, so what they read is
tracked like any other `states()` call (a template trigger re-renders when a group member changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN

# English names of states, by domain and device class (`_`: any device class), as Home Assistant's
# English translations of the entity components OrbitEOS has; other states read as they are.
_ON_OFF = {"on": "On", "off": "Off"}
_BINARY_SENSOR: dict[str, dict[str, str]] = {
    "_": _ON_OFF,
    "battery": {"on": "Low", "off": "Normal"},
    "battery_charging": {"on": "Charging", "off": "Not charging"},
    "carbon_monoxide": {"on": "Detected", "off": "Clear"},
    "cold": {"on": "Cold", "off": "Normal"},
    "connectivity": {"on": "Connected", "off": "Disconnected"},
    "door": {"on": "Open", "off": "Closed"},
    "garage_door": {"on": "Open", "off": "Closed"},
    "gas": {"on": "Detected", "off": "Clear"},
    "heat": {"on": "Hot", "off": "Normal"},
    "light": {"on": "Light detected", "off": "No light"},
    "lock": {"on": "Unlocked", "off": "Locked"},
    "moisture": {"on": "Wet", "off": "Dry"},
    "motion": {"on": "Detected", "off": "Clear"},
    "moving": {"on": "Moving", "off": "Not moving"},
    "occupancy": {"on": "Detected", "off": "Clear"},
    "opening": {"on": "Open", "off": "Closed"},
    "plug": {"on": "Plugged in", "off": "Unplugged"},
    "power": {"on": "Detected", "off": "Clear"},
    "presence": {"on": "Home", "off": "Away"},
    "problem": {"on": "Problem", "off": "OK"},
    "running": {"on": "Running", "off": "Not running"},
    "safety": {"on": "Unsafe", "off": "Safe"},
    "smoke": {"on": "Detected", "off": "Clear"},
    "sound": {"on": "Detected", "off": "Clear"},
    "tamper": {"on": "Tampering detected", "off": "Clear"},
    "update": {"on": "Update available", "off": "Up-to-date"},
    "vibration": {"on": "Detected", "off": "Clear"},
    "window": {"on": "Open", "off": "Closed"},
}
STATE_NAMES: dict[str, dict[str, dict[str, str]]] = {
    "binary_sensor": _BINARY_SENSOR,
    **{domain: {"_": _ON_OFF} for domain in ("switch", "automation", "sensor", "input_boolean", "light", "script")},
}


def translate_state(domain: str, state: str, device_class: Any) -> str:
    """The English name of `state` for an entity of `domain` and `device_class`."""
    if state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return state
    names = STATE_NAMES.get(domain)
    if names is None:
        return state
    if device_class is not None and state in names.get(str(device_class), {}):
        return names[str(device_class)][state]
    return names["_"].get(state, state)


def expand(lookup: Callable[[str], Any], collect: Callable[[str], None], state_types: tuple[type, ...],
           *args: Any) -> list[Any]:
    """The states of the entities named in `args`, groups and zones replaced by their members.

    `args` are entity ids, states, or iterables of those (nested); unknown ids and other values are
    skipped. A `group.*` entity stands for its `entity_id` attribute, a `zone.*` for its `persons`,
    recursively; each member once. The order is Home Assistant's: the search takes the last item
    first, so `expand('a', 'b')` gives b's state, then a's.
    """
    search = list(args)
    found: dict[str, Any] = {}
    while search:
        entity: Any = search.pop()
        if isinstance(entity, str):
            entity_id = entity
            entity = lookup(entity)
            if entity is None:
                continue
        elif type(entity) in state_types:
            entity_id = entity.entity_id
        elif isinstance(entity, Iterable):
            search += entity
            continue
        else:
            continue
        if entity_id.startswith("group."):
            if members := entity.attributes.get("entity_id"):
                search += members
        elif entity_id.startswith("zone."):
            if persons := entity.attributes.get("persons"):
                search += persons
        else:
            collect(entity_id)
            found[entity_id] = entity
    return list(found.values())
