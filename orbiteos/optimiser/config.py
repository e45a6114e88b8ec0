"""The `optimiser:` block."""

from __future__ import annotations

import voluptuous as vol

from orbiteos.integrations.sim.schedule import seconds_of_day, weekdays
from orbiteos.validation import entity_id, number_in_range, positive_time_period


def entity_or_number(value: object) -> str | float:
    """An entity id (read at each round) or a fixed number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return entity_id(value)
    except vol.Invalid:
        raise vol.Invalid(f"expected an entity id or a number, found {value!r}") from None


SESSION_SCHEMA = vol.Schema(
    {
        vol.Required("arrival"): seconds_of_day,
        vol.Required("departure"): seconds_of_day,
        vol.Optional("energy_kwh", default=0.0): number_in_range(0.0, 10_000.0),
        vol.Optional("max_power_kw"): number_in_range(0.1, 10_000.0),
        vol.Optional("days", default="all"): weekdays,
        vol.Optional("name", default=""): str,
    }
)

BATTERY_SCHEMA = vol.Schema(
    {
        vol.Required("entity_id"): vol.All(entity_id, vol.Match(r"^battery\.", msg="expected a battery.* entity")),
        vol.Optional("round_trip_efficiency", default=0.9): number_in_range(0.5, 1.0),
        vol.Optional("cycle_cost", default=0.02): number_in_range(0.0, 10.0),
        vol.Optional("capacity_kwh"): number_in_range(0.01, 1_000_000.0),
        vol.Optional("soc_min"): number_in_range(0.0, 100.0),
        vol.Optional("soc_max"): number_in_range(0.0, 100.0),
    }
)

CHARGER_SCHEMA = vol.Schema(
    {
        vol.Required("entity_id"): vol.All(
            entity_id, vol.Match(r"^ev_charger\.", msg="expected an ev_charger.* entity")),
        vol.Optional("efficiency", default=0.92): number_in_range(0.5, 1.0),
        vol.Optional("max_power_kw"): number_in_range(0.1, 10_000.0),
        vol.Optional("default_stay", default={"hours": 8}): positive_time_period,
        vol.Optional("sessions", default=[]): [SESSION_SCHEMA],
    }
)

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("horizon", default={"hours": 24}): positive_time_period,
        vol.Optional("slot", default={"minutes": 15}): positive_time_period,
        vol.Optional("grid_meter", default="meter.grid"): entity_id,
        vol.Optional("import_price", default="sensor.import_price_forecast"): entity_id,
        vol.Optional("export_price", default="sensor.export_price_forecast"): entity_id,
        vol.Optional("pv_forecast", default="sensor.pv_forecast"): entity_id,
        vol.Optional("load_forecast", default="sensor.load_forecast"): entity_id,
        vol.Optional("import_limit", default=1000.0): entity_or_number,
        vol.Optional("export_limit", default=1000.0): entity_or_number,
        # Plan this far under the import limit: the load moves within a slot, the plan does not.
        vol.Optional("import_margin", default=0.0): number_in_range(0.0, 10_000.0),
        vol.Optional("demand_charge", default=0.0): number_in_range(0.0, 10_000.0),
        vol.Optional("stored_energy_value"): number_in_range(-10.0, 100.0),
        vol.Optional("batteries", default=[]): [BATTERY_SCHEMA],
        vol.Optional("ev_chargers", default=[]): [CHARGER_SCHEMA],
    }
)
