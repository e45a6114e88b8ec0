"""`orbiteos check`: which automations steer which devices, and where two of them share one at the
same priority (the later writer would win, and the engine would log a conflict)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from orbiteos.errors import ConfigError
from orbiteos.natures.contract import CONTROLLABLE, SCHEMAS

_DEVICE = re.compile(r"\b(" + "|".join(CONTROLLABLE) + r")\.([a-z0-9_]+)\b")
_SERVICES = {f"{domain}.{service}" for domain, services in SCHEMAS.items() for service in services}


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _strings(item)
    elif node is not None and hasattr(node, "template"):  # a compiled template keeps its text
        yield str(node.template)


def steered_devices(config: Mapping[str, Any]) -> set[str]:
    """The devices an automation may steer: those of a domain whose nature service it calls, named in it."""
    texts = list(_strings(config))
    called = {s.partition(".")[0] for t in texts for s in _SERVICES if s in t}
    named = {f"{d}.{o}" for t in texts for d, o in _DEVICE.findall(t)}
    return {e for e in named if e.partition(".")[0] in called and e not in _SERVICES}


def shared_device_warnings(configs: list[Mapping[str, Any]], entity_ids: list[str],
                           positions: list[tuple[str, int] | None]) -> list[ConfigError]:
    steering: dict[str, list[tuple[str, float, tuple[str, int] | None]]] = {}
    for index, (config, entity_id) in enumerate(zip(configs, entity_ids, strict=True)):
        where = positions[index] if index < len(positions) else None
        for device in steered_devices(config):
            steering.setdefault(device, []).append((entity_id, float(config.get("priority", 0)), where))
    warnings = []
    for device, who in sorted(steering.items()):
        by_priority: dict[float, list[tuple[str, float, tuple[str, int] | None]]] = {}
        for item in who:
            by_priority.setdefault(item[1], []).append(item)
        for priority, same in sorted(by_priority.items()):
            if len(same) < 2:
                continue
            names = ", ".join(name for name, _, _ in same)
            file, line = same[1][2] or (None, None)
            warnings.append(ConfigError(
                f"{device} is steered by {names} at the same priority {priority:g}: whichever writes last wins "
                "and the engine logs a conflict; give one a higher `priority:` or make sure their conditions "
                "never hold together (docs/failsafe.md, Ownership)", file, line,
            ))
    return warnings
