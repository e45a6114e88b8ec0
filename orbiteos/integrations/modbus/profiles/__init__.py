"""Ready register maps for common devices: `profile: sunspec` (PV inverter), `profile: orbiteos_battery`,
and the grid meters `profile: sunspec_meter` (SunSpec model 203) and `profile: sdm630` (Eastron SDM630).

A profile fills a nature's `registers` and `controls`; entries under those keys in the YAML override it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orbiteos.integrations.modbus.profiles import orbiteos_battery, sdm630, sunspec, sunspec_meter


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
    "sunspec_meter": Profile("sunspec_meter", "meter", sunspec_meter.REGISTERS, {}, sunspec_meter.__doc__ or ""),
    "sdm630": Profile("sdm630", "meter", sdm630.REGISTERS, {}, sdm630.__doc__ or ""),
}
