"""`optimiser:` the battery and EV-charger plan (a linear programme on HiGHS) over a rolling
horizon, as plan sensors a blueprint follows, plus the `ev_charger.set_target` service.
See docs/optimiser.md."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import voluptuous as vol

from orbiteos.core import Hub
from orbiteos.optimiser.config import CONFIG_SCHEMA
from orbiteos.optimiser.planner import GRID_PLAN_SENSOR, STATUS_SENSOR, Planner, plan_sensor
from orbiteos.validation import entity_ids as entity_ids_validator
from orbiteos.validation import has_at_least_one_key, number_in_range

DOMAIN = "optimiser"
DEPENDENCIES = ("forecast", "sim", "modbus", "mqtt", "ocpp")
_LOGGER = logging.getLogger(__name__)

__all__ = ["CONFIG_SCHEMA", "DOMAIN", "SET_TARGET_SCHEMA", "async_setup", "entity_ids"]


def _departure(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise vol.Invalid(f"expected an ISO 8601 date and time, found {value!r}") from None


SET_TARGET_SCHEMA = vol.Schema(vol.All(
    vol.Schema(
        {
            vol.Required("entity_id"): entity_ids_validator,
            vol.Required("departure"): _departure,
            vol.Exclusive("energy_kwh", "target"): number_in_range(0.0, 10_000.0),
            vol.Exclusive("target_soc", "target"): number_in_range(0.0, 100.0),
            vol.Optional("max_power_kw"): number_in_range(0.1, 10_000.0),
        }
    ),
    has_at_least_one_key("energy_kwh", "target_soc"),
))


def entity_ids(config: dict[str, Any]) -> list[str]:
    """What this block provides, for `orbiteos check`'s reference warnings."""
    config = CONFIG_SCHEMA(config)
    devices = [c["entity_id"] for c in config["batteries"]] + [c["entity_id"] for c in config["ev_chargers"]]
    return [*(plan_sensor(d) for d in devices), GRID_PLAN_SENSOR, STATUS_SENSOR]


async def async_setup(hub: Hub, config: dict[str, Any] | None) -> None:
    config = CONFIG_SCHEMA(config or {})
    planner = Planner(hub, config)
    hub.data[DOMAIN] = planner
    hub.services.register("ev_charger", "set_target", planner.set_target, SET_TARGET_SCHEMA,
                          "Set an EV's energy or SoC target by a departure time (optimiser)")
    planner.start()
    hub.on_stop(planner.stop)
    _LOGGER.info("optimiser: %d batteries, %d chargers, %s in %s slots", len(config["batteries"]),
                 len(config["ev_chargers"]), config["horizon"], config["slot"])
