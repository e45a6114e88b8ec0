"""The simulated devices' services: the only way to control them, as on a real site."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos.core import Hub, ServiceCall
from orbiteos.integrations.sim.battery import Battery
from orbiteos.integrations.sim.ev import EVCharger
from orbiteos.integrations.sim.pv import PVArray
from orbiteos.integrations.sim.site import SimulatedSite
from orbiteos.validation import entity_ids, exactly_one_key, number_in_range

_TARGET: dict[Any, Any] = {vol.Required("entity_id"): entity_ids}

SERVICES: dict[str, dict[str, Any]] = {
    "pv": {
        "set_limit": vol.All(
            vol.Schema(
                {
                    **_TARGET,
                    vol.Optional("power_kw"): number_in_range(0.0),
                    vol.Optional("percent"): number_in_range(0.0, 100.0),
                }
            ),
            exactly_one_key("power_kw", "percent"),
        ),
    },
    "battery": {
        "set_power": vol.Schema({**_TARGET, vol.Required("power_kw"): number_in_range()}),
        "auto": vol.Schema(_TARGET),
    },
    "ev_charger": {
        "set_limit": vol.All(
            vol.Schema(
                {
                    **_TARGET,
                    vol.Optional("power_kw"): number_in_range(0.0),
                    vol.Optional("current_a"): number_in_range(0.0),
                }
            ),
            exactly_one_key("power_kw", "current_a"),
        ),
        "start": vol.Schema(_TARGET),
        "stop": vol.Schema(_TARGET),
    },
}


_KINDS: dict[str, type] = {"pv": PVArray, "battery": Battery, "ev_charger": EVCharger}


def register_services(hub: Hub, site: SimulatedSite) -> None:
    """Serve the nature services for the simulated devices; other integrations' devices of a nature keep theirs."""

    def handle(call: ServiceCall) -> None:
        data = call.data
        # The registry hands us only the entities `owns` claimed: simulated devices of the call's domain.
        for entity_id in call.entity_ids:
            device = site.device(entity_id)
            if isinstance(device, PVArray):
                device.set_limit(power_kw=data.get("power_kw"), percent=data.get("percent"))
            elif isinstance(device, Battery):
                if call.service == "set_power":
                    device.set_power(data["power_kw"])
                else:
                    device.auto()
            elif isinstance(device, EVCharger):
                if call.service == "set_limit":
                    device.set_limit(power_kw=data.get("power_kw"), current_a=data.get("current_a"))
                elif call.service == "start":
                    device.start()
                else:
                    device.stop()
        # The device acknowledges the new setpoint at once; its power follows at the next step.
        for entity_id in call.entity_ids:
            site.write_device(entity_id, call.context)

    for domain, services in SERVICES.items():
        kind = _KINDS[domain]

        def owns(entity_id: str, kind: type = kind) -> bool:
            return isinstance(site.device(entity_id), kind)

        for service, schema in services.items():
            hub.services.register_for_entities(
                domain, service, handle, owns, schema, description=f"simulated {domain}.{service}"
            )
