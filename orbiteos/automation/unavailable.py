"""Automations that failed validation: kept as `automation.*` entities in state `unavailable`.

As Home Assistant does since 2023.11: one broken automation does not stop the others; it shows up
with its errors (`file:line: what was expected`) in the `errors` attribute, in the API and the UI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orbiteos.core import Hub
from orbiteos.entity import slugify
from orbiteos.errors import ConfigError

STATE_UNAVAILABLE = "unavailable"


@dataclass
class InvalidAutomation:
    """One automation (or blueprint use) that did not validate."""

    entity_id: str
    alias: str
    automation_id: str
    errors: list[ConfigError] = field(default_factory=list)

    def attributes(self) -> dict[str, Any]:
        return {
            **({"id": self.automation_id} if self.automation_id != self.entity_id.partition(".")[2] else {}),
            "friendly_name": self.alias,
            "errors": [str(error) for error in self.errors],
        }

    def write_state(self, hub: Hub) -> None:
        hub.states.set(self.entity_id, STATE_UNAVAILABLE, self.attributes())


def invalid_automations(
    broken: Iterable[tuple[Any, list[ConfigError]]], taken: Iterable[str]
) -> list[InvalidAutomation]:
    """An entity per broken item, named from its alias or id (else `automation.invalid_<n>`), never
    reusing an entity id a valid automation has."""
    used = set(taken)
    result = []
    for number, (item, errors) in enumerate(broken, start=1):
        config = item if isinstance(item, Mapping) else {}
        alias = config.get("alias") if isinstance(config.get("alias"), str) else None
        given_id = config.get("id") if isinstance(config.get("id"), str | int) else None
        base = slugify(alias or str(given_id)) if alias or given_id is not None else f"invalid_{number}"
        candidate, suffix = f"automation.{base}", 2
        while candidate in used:
            candidate, suffix = f"automation.{base}_{suffix}", suffix + 1
        used.add(candidate)
        object_id = candidate.partition(".")[2]
        result.append(
            InvalidAutomation(candidate, alias or str(given_id or object_id), str(given_id or object_id), errors)
        )
    return result
