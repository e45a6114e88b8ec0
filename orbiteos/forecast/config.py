"""The `forecast:` block."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos.validation import entity_id, number_in_range, positive_time_period

ARRAY_SCHEMA = vol.Schema(
    {
        vol.Required("entity_id"): entity_id,
        vol.Required("peak_power_kw"): number_in_range(0.01, 100_000.0),
        vol.Optional("tilt", default=30.0): number_in_range(0.0, 90.0),
        vol.Optional("azimuth", default=180.0): number_in_range(0.0, 360.0),
        vol.Optional("latitude"): number_in_range(-90.0, 90.0),
        vol.Optional("longitude"): number_in_range(-180.0, 180.0),
        vol.Optional("derate", default=0.88): number_in_range(0.1, 1.0),
    }
)

PRICE_SCHEMA = vol.Schema(
    {
        vol.Optional("entity_id", default="sensor.electricity_price"): entity_id,
        vol.Optional("export_entity_id", default="sensor.electricity_export_price"): entity_id,
        vol.Optional("fallback"): number_in_range(-10.0, 100.0),
        vol.Optional("export_fallback"): number_in_range(-10.0, 100.0),
    }
)

def _arrays_or_entity(config: dict[str, Any]) -> dict[str, Any]:
    if not config["arrays"] and "forecast_entity" not in config:
        raise vol.Invalid("expected `arrays` (at least one) or a `forecast_entity`, found neither")
    return config


PV_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("arrays", default=[]): [ARRAY_SCHEMA],
            vol.Optional("forecast_entity"): entity_id,
            vol.Optional("clearness", default=0.7): number_in_range(0.0, 1.5),
        }
    ),
    _arrays_or_entity,
)

LOAD_SCHEMA = vol.Schema(
    {
        vol.Exclusive("entity_id", "load"): entity_id,
        vol.Exclusive("forecast_entity", "load"): entity_id,
        vol.Optional("history_days", default=28): vol.All(vol.Coerce(int), vol.Range(min=0, max=366)),
    }
)

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("horizon", default={"hours": 24}): positive_time_period,
        vol.Optional("slot", default={"minutes": 15}): positive_time_period,
        vol.Optional("price"): PRICE_SCHEMA,
        vol.Optional("pv"): PV_SCHEMA,
        vol.Optional("load"): LOAD_SCHEMA,
    }
)

IMPORT_PRICE_SENSOR = "sensor.import_price_forecast"
EXPORT_PRICE_SENSOR = "sensor.export_price_forecast"
PV_SENSOR = "sensor.pv_forecast"
LOAD_SENSOR = "sensor.load_forecast"


def sensor_ids(config: dict[str, Any]) -> list[str]:
    """The sensors a validated block provides."""
    ids = []
    if "price" in config:
        ids += [IMPORT_PRICE_SENSOR, EXPORT_PRICE_SENSOR]
    if "pv" in config:
        ids.append(PV_SENSOR)
    if "load" in config:
        ids.append(LOAD_SENSOR)
    return ids
