"""The simulated devices as providers of the battery, pv and ev_charger natures: the only way to
control them, as on a real site. Each holds a setpoint for the command's `revert_s` by itself
(its simulated watchdog) and acknowledges it at once; its power follows at the next step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orbiteos.core import Hub
from orbiteos.errors import DeviceUnavailable
from orbiteos.integrations.sim.battery import Battery
from orbiteos.integrations.sim.ev import EVCharger
from orbiteos.integrations.sim.pv import PVArray
from orbiteos.integrations.sim.site import SimulatedSite
from orbiteos.natures import Command, serve
from orbiteos.natures.contract import SCHEMAS

# The nature services the simulator provides (for `orbiteos check` and the docs).
SERVICES: dict[str, dict[str, Any]] = {domain: dict(SCHEMAS[domain]) for domain in ("pv", "battery", "ev_charger")}


class _SimulatedDevice:
    def __init__(self, site: SimulatedSite, entity_id: str, device: Any) -> None:
        self.site = site
        self.entity_id = entity_id
        self.device = device

    def _apply(self, command: Command, change: Callable[[], None]) -> None:
        if self.entity_id in self.site.not_answering:
            raise DeviceUnavailable(f"{self.entity_id} did not answer (injected fault)")
        change()
        self.device.revert_in_s = command.revert_s
        self.device.ownership = dict(command.attributes)
        self.site.write_device(self.entity_id, command.context)


class SimulatedBattery(_SimulatedDevice):
    device: Battery

    async def set_power(self, power_kw: float, command: Command) -> None:
        self._apply(command, lambda: self.device.set_power(power_kw))

    async def auto(self, command: Command) -> None:
        self._apply(command, self.device.auto)
        self.device.revert_in_s = None


class SimulatedPV(_SimulatedDevice):
    device: PVArray

    async def set_limit(self, power_kw: float | None, percent: float | None, command: Command) -> None:
        self._apply(command, lambda: self.device.set_limit(power_kw=power_kw, percent=percent))


class SimulatedCharger(_SimulatedDevice):
    device: EVCharger

    async def set_limit(self, power_kw: float | None, current_a: float | None, command: Command) -> None:
        self._apply(command, lambda: self.device.set_limit(power_kw=power_kw, current_a=current_a))
        fallback = command.fallback
        self.device.revert_to_kw = (
            self.device.max_power_kw if fallback is None
            else self.device.limit_kw_of(fallback.get("power_kw"), fallback.get("current_a"))
        )

    async def start(self, id_tag: str | None, command: Command) -> None:
        self._apply(command, self.device.start)
        self.device.revert_in_s = None

    async def stop(self, command: Command) -> None:
        self._apply(command, self.device.stop)
        self.device.revert_in_s = None


def register_services(hub: Hub, site: SimulatedSite) -> Callable[[], None]:
    """Serve the natures for the simulated devices; returns the unsubscribe of all three."""
    withdrawals = [
        serve(hub, "battery", "sim", {e: SimulatedBattery(site, e, d) for e, d in site.batteries.items()}),
        serve(hub, "pv", "sim", {e: SimulatedPV(site, e, d) for e, d in site.pv.items()}),
        serve(hub, "ev_charger", "sim", {e: SimulatedCharger(site, e, d) for e, d in site.chargers.items()}),
    ]

    def withdraw() -> None:
        for unsubscribe in withdrawals:
            unsubscribe()

    return withdraw
