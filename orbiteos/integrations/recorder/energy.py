"""Energy rows from the device natures: device_telemetry, energy_flows and energy_prices.

Each function takes a state that the recorder keeps and returns the rows it adds to one energy
table (often none). Units and signs are those of the device natures in DESIGN.md.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from orbiteos.core import State
from orbiteos.natures.contract import NATURE_DOMAINS

NATURES = frozenset(NATURE_DOMAINS)  # the device natures (orbiteos.natures), recorded as telemetry too

DEVICE_TELEMETRY_COLUMNS = (
    "time", "device_id", "nature", "available", "power_kw", "energy_kwh", "import_kwh", "export_kwh",
    "soc", "soh", "setpoint_kw", "limit_kw", "frequency_hz", "voltage_l1", "voltage_l2", "voltage_l3",
    "current_l1", "current_l2", "current_l3", "temperature_c", "status",
)
ENERGY_FLOWS_COLUMNS = ("time", "entity_id", "flow", "power_kw")
ENERGY_PRICES_COLUMNS = ("time", "entity_id", "price", "unit")

# The attribute that fills `energy_kwh`, per nature.
_ENERGY_ATTRIBUTE = {"pv": "energy_kwh", "ev_charger": "session_kwh", "battery": "energy_kwh", "meter": "energy_kwh"}


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (text, unknown, unavailable, NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def telemetry_row(state: State, power_kw: float | None) -> tuple[Any, ...]:
    """The device_telemetry row for a state of one of the NATURES."""
    a: Mapping[str, Any] = state.attributes
    get = a.get
    nature = state.domain
    status = get("status")
    return (
        state.last_updated, state.entity_id, nature, power_kw is not None, power_kw,
        number(get(_ENERGY_ATTRIBUTE[nature])), number(get("import_kwh")), number(get("export_kwh")),
        number(get("soc")), number(get("soh")), number(get("setpoint_kw")), number(get("limit_kw")),
        number(get("frequency_hz")), number(get("voltage_l1")), number(get("voltage_l2")), number(get("voltage_l3")),
        number(get("current_l1")), number(get("current_l2")), number(get("current_l3")),
        number(get("temperature_c")), None if status is None else str(status),
    )


def flow_rows(state: State, power_kw: float | None) -> list[tuple[Any, ...]]:
    """energy_flows rows: power split by direction, both directions written so each one is continuous.

    An unavailable device writes no flow: a gap, not a zero.
    """
    if power_kw is None:
        return []
    time, entity_id, nature = state.last_updated, state.entity_id, state.domain
    if nature == "meter":
        return [(time, entity_id, "grid_import", max(power_kw, 0.0)),
                (time, entity_id, "grid_export", max(-power_kw, 0.0))]
    if nature == "battery":
        return [(time, entity_id, "battery_discharge", max(power_kw, 0.0)),
                (time, entity_id, "battery_charge", max(-power_kw, 0.0))]
    if nature == "pv":
        return [(time, entity_id, "pv", max(power_kw, 0.0))]
    return [(time, entity_id, "ev", max(power_kw, 0.0))]


def is_price_sensor(state: State, price_entities: Collection[str]) -> bool:
    """A sensor priced per kWh (unit like `EUR/kWh`), or one listed in `price_entities`."""
    if state.entity_id in price_entities:
        return True
    if state.domain != "sensor":
        return False
    unit = state.attributes.get("unit_of_measurement")
    return isinstance(unit, str) and unit.lower().endswith("/kwh")


def price_row(state: State, value: float | None) -> tuple[datetime, str, float, str | None] | None:
    if value is None:
        return None
    unit = state.attributes.get("unit_of_measurement")
    return (state.last_updated, state.entity_id, value, None if unit is None else str(unit))
