"""The simulated devices' services: the only way to control them, as on a real site."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos.core import Hub, ServiceCall
from orbiteos.errors import ServiceValidationError
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


def _targets(site: SimulatedSite, call: ServiceCall, kind: type) -> list[tuple[str, Any]]:
    found = []
    unknown = []
    for entity_id in call.entity_ids:
        device = site.device(entity_id)
        if isinstance(device, kind):
            found.append((entity_id, device))
        else:
            unknown.append(entity_id)
    if unknown:
        known = ", ".join(e for e in site.entity_ids if e.startswith(call.domain + ".")) or "none"
        raise ServiceValidationError(
            f"{call.domain}.{call.service}: no simulated {call.domain} {', '.join(unknown)} (known: {known})"
        )
    return found


def register_services(hub: Hub, site: SimulatedSite) -> None:
    def handle(call: ServiceCall) -> None:
        data = call.data
        if call.domain == "pv":
            targets = _targets(site, call, PVArray)
            for _entity_id, array in targets:
                array.set_limit(power_kw=data.get("power_kw"), percent=data.get("percent"))
        elif call.domain == "battery":
            targets = _targets(site, call, Battery)
            for _entity_id, battery in targets:
                if call.service == "set_power":
                    battery.set_power(data["power_kw"])
                else:
                    battery.auto()
        else:
            targets = _targets(site, call, EVCharger)
            for _entity_id, charger in targets:
                if call.service == "set_limit":
                    charger.set_limit(power_kw=data.get("power_kw"), current_a=data.get("current_a"))
                elif call.service == "start":
                    charger.start()
                else:
                    charger.stop()
        # The device acknowledges the new setpoint at once; its power follows at the next step.
        for entity_id, _device in targets:
            site.write_device(entity_id, call.context)

    for domain, services in SERVICES.items():
        for service, schema in services.items():
            hub.services.register(domain, service, handle, schema, description=f"simulated {domain}.{service}")
