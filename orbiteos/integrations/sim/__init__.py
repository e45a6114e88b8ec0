"""`sim:` a simulated site (PV, battery, EV chargers, site load, grid meter, tariff, grid limits)
stepped on the hub's clock, deterministic for a seed. See docs/simulator.md."""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol

from orbiteos.core import Hub
from orbiteos.entity import slugify
from orbiteos.integrations.sim import battery, ev, grid_signals, load, meter, pv, tariff, weather
from orbiteos.integrations.sim.services import SERVICES, register_services
from orbiteos.integrations.sim.site import SimulatedSite, entity_ids_of
from orbiteos.validation import ensure_list, number_in_range

__all__ = ["CONFIG_SCHEMA", "DOMAIN", "SERVICES", "SimulatedSite", "async_setup", "entity_ids"]

DOMAIN = "sim"
_LOGGER = logging.getLogger(__name__)


def _device_list(schema: Any, domain: str) -> Any:
    """One device as a mapping or several as a list; names (hence entity ids) must differ."""

    def validate(value: Any) -> list[dict[str, Any]]:
        devices = [schema(item) if isinstance(item, dict) else _not_a_mapping(item) for item in ensure_list(value)]
        seen: dict[str, int] = {}
        for index, device in enumerate(devices):
            slug = slugify(device["name"])
            if slug in seen:
                raise vol.Invalid(
                    f"expected unique names, found {domain}.{slug} twice (items {seen[slug]} and {index})",
                    path=[index, "name"],
                )
            seen[slug] = index
        return devices

    return validate


def _not_a_mapping(value: Any) -> dict[str, Any]:
    raise vol.Invalid(f"expected a device as a mapping of parameters, found {value!r}")


CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("seed", default=0): vol.Coerce(int),
        vol.Optional("step", default=1.0): number_in_range(0.05, 60.0),
        vol.Optional("weather", default={}): weather.SCHEMA,
        vol.Optional("pv", default=[]): _device_list(pv.SCHEMA, "pv"),
        vol.Optional("battery", default=[]): _device_list(battery.SCHEMA, "battery"),
        vol.Optional("ev_charger", default=[]): _device_list(ev.SCHEMA, "ev_charger"),
        vol.Optional("load", default={}): load.SCHEMA,
        vol.Optional("meter", default={}): meter.SCHEMA,
        vol.Optional("tariff", default={}): tariff.SCHEMA,
        vol.Optional("grid", default={}): grid_signals.SCHEMA,
    }
)


def entity_ids(config: dict[str, Any]) -> list[str]:
    """What this block provides, for `orbiteos check`'s reference warnings."""
    return entity_ids_of(CONFIG_SCHEMA(config))


async def async_setup(hub: Hub, config: dict[str, Any] | None) -> None:
    """Build the site from the (validated) `sim:` block, register its services, start stepping."""
    config = CONFIG_SCHEMA(config or {})
    site = SimulatedSite(hub, config)
    hub.data[DOMAIN] = site
    withdraw = register_services(hub, site)
    site.start()
    hub.on_stop(site.stop)
    hub.on_stop(withdraw)
    _LOGGER.info(
        "sim: site with %d PV, %d batteries, %d chargers, seed %d, step %.3g s",
        len(site.pv), len(site.batteries), len(site.chargers), site.seed, site.step_s,
    )
