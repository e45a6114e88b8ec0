"""Ready register maps for common devices: `profile: sunspec` (PV inverter) and `profile: orbiteos_battery`.

A profile fills a nature's `registers` and `controls`; entries under those keys in the YAML override it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orbiteos.integrations.modbus.profiles import orbiteos_battery, sunspec


@dataclass(frozen=True)
class Profile:
    name: str
    nature: str
    registers: dict[str, dict[str, Any]]
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""


PROFILES: dict[str, Profile] = {
    "sunspec": Profile("sunspec", "pv", sunspec.REGISTERS, sunspec.CONTROLS, sunspec.__doc__ or ""),
    "orbiteos_battery": Profile(
        "orbiteos_battery", "battery", orbiteos_battery.REGISTERS, orbiteos_battery.CONTROLS,
        orbiteos_battery.__doc__ or "",
    ),
}
