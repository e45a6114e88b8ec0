"""The site's configuration in Home Assistant's `Config.as_dict()` shape, for `/api/config` and `get_config`."""

from __future__ import annotations

from typing import Any

from orbiteos import __version__
from orbiteos.core import Hub
from orbiteos.integrations.recorder.history import get_recorder

# Home Assistant's metric unit system, plus the energy units every OrbitEOS nature uses.
UNIT_SYSTEM = {
    "length": "km",
    "accumulated_precipitation": "mm",
    "mass": "g",
    "pressure": "Pa",
    "temperature": "°C",
    "volume": "L",
    "wind_speed": "m/s",
    "power": "kW",
    "energy": "kWh",
}
CURRENCY = "EUR"
LANGUAGE = "en"


def config_dict(hub: Hub) -> dict[str, Any]:
    """Every key Home Assistant 2024.3 answers, with OrbitEOS's values (none it has no notion of is invented)."""
    site = hub.config
    setup = hub.data.get("setup")
    return {
        "allowlist_external_dirs": [],
        "allowlist_external_urls": [],
        "components": sorted(getattr(setup, "loaded", [])) if setup else [],
        "config_dir": str(site.config_dir) if site.config_dir is not None else None,
        "config_source": "yaml",
        "country": None,
        "currency": CURRENCY,
        "elevation": site.elevation,
        "external_url": None,
        "internal_url": None,
        "language": LANGUAGE,
        "latitude": site.latitude,
        "location_name": site.name,
        "longitude": site.longitude,
        "radius": 100,
        "recovery_mode": False,
        "safe_mode": False,
        "state": "RUNNING" if hub.running else "NOT_RUNNING",
        "time_zone": site.time_zone,
        "unit_system": dict(UNIT_SYSTEM),
        "version": __version__,
        "whitelist_external_dirs": [],
        # OrbitEOS extension: whether /api/history has a recorder behind it.
        "history": get_recorder(hub) is not None,
    }
